"""The agents of an online sweep on this machine, started and watched from here.

Each agent slot (a GPU, or a share of one with ``per_gpu``; GPUs dealt as
``sslexp.sweep.gpus.gpu_slots`` deals them to local workers) runs one agent
process (``sslexp.sweep.agent``) that calls ``wandb.agent`` and executes every run
it is given through the sweep's executor, as ``sweep local`` does: a run whose
worker dies or wedges (``run_timeout_s``) is recorded and the next run gets a
fresh worker, inside the agent process. The agent process writes which run it is
executing to a small state file; this pool prints each run's start and end from
it, and records the running run as failed (interrupted when stopping) should an
agent process itself die. Each agent needs a process of its own: ``wandb.agent``
sets the run's W&B variables in ``os.environ``, for the whole process. Agents start ``stagger_s`` apart (agents started at the
same instant can be handed the same first run). The first Ctrl-C or SIGTERM is
passed to every agent process (their runs are recorded as interrupted); a second
kills them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sslexp.runs.protocol import GROUP_ENV
from sslexp.sweep.agent import AgentState, record_lost_run
from sslexp.sweep.executor import describe_exit
from sslexp.sweep.gpus import gpu_slots
from sslexp.sweep.processes import pass_signal

POLL_S = 0.5


@dataclass(frozen=True)
class PoolOptions:
    sweep_id: str
    gpus: tuple[str, ...]
    per_gpu: int = 1
    count: int | None = None  # runs per slot
    project: str | None = None
    entity: str | None = None
    group: str | None = None
    logs_dir: Path = Path("sweep-agents")
    stagger_s: float = 5.0
    run_timeout_s: float | None = None
    isolate: bool = False  # one process per run instead of a long-lived worker


@dataclass
class Slot:
    index: int
    gpu: str | None
    state_path: Path
    log_path: Path
    env: dict[str, str]
    process: subprocess.Popen | None = None
    exit_code: int | None = None
    lost: list[str] = field(default_factory=list)
    ended: list[dict] = field(default_factory=list)
    reported: tuple[int, str | None] = (0, None)  # (ended runs, current run id) already shown
    done: bool = False
    gave_up: str | None = None  # why the wandb agent stopped asking for runs, if it gave up

    @property
    def label(self) -> str:
        return f"agent {self.index} ({'CPU' if self.gpu is None else f'GPU {self.gpu}'})"


def agent_command(options: PoolOptions, slot: Slot) -> list[str]:
    """The agent process of ``slot``."""
    argv = [sys.executable, "-m", "sslexp.sweep.agent", options.sweep_id,
            "--state", str(slot.state_path)]
    for name, value in (("--count", options.count), ("--project", options.project),
                        ("--entity", options.entity), ("--run-timeout", options.run_timeout_s)):
        if value is not None:
            argv += [name, str(value)]
    return argv + (["--isolate"] if options.isolate else [])


class AgentPool:
    """The agent processes of one machine: start, watch, stop."""

    def __init__(self, options: PoolOptions, base_env: Mapping[str, str] = os.environ,
                 echo: Callable[[str], None] = print,
                 command: Callable[[PoolOptions, Slot], list[str]] = agent_command):
        self.options = options
        self.echo = echo
        self.command = command
        self.stopping = False
        self._signals = 0
        logs = Path(options.logs_dir)
        logs.mkdir(parents=True, exist_ok=True)
        self.slots = []
        for index, gpu in enumerate(gpu_slots(options.gpus, options.per_gpu)):
            env = dict(base_env)
            if gpu is not None:
                env["CUDA_VISIBLE_DEVICES"] = gpu
            if options.group:
                env[GROUP_ENV] = options.group
            (logs / f"agent-{index}.json").unlink(missing_ok=True)
            self.slots.append(Slot(index, gpu, logs / f"agent-{index}.json",
                                   logs / f"agent-{index}.log", env))

    def handle_signal(self, signum: int) -> None:
        """First signal: pass it to every agent process; second: kill them."""
        self._signals += 1
        self.stopping = True
        forceful = self._signals > 1
        self.echo("Stopping agents now (killing them)." if forceful else
                  f"Passing {signal.Signals(signum).name} to the agents (their runs are recorded "
                  "as interrupted); send it again to kill them.")
        pass_signal([slot.process for slot in self.slots], signum, forceful)

    def run(self) -> list[Slot]:
        for position, slot in enumerate(self.slots):
            if position:
                self._sleep(self.options.stagger_s)
            if self.stopping:
                slot.done = True
                continue
            self._start(slot)
        while not all(slot.done for slot in self.slots):
            time.sleep(POLL_S)
            for slot in self.slots:
                if not slot.done:
                    self._watch(slot)
        return self.slots

    def _start(self, slot: Slot) -> None:
        with open(slot.log_path, "ab") as log:
            slot.process = subprocess.Popen(
                self.command(self.options, slot), env=slot.env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.echo(f"{slot.label} started (pid {slot.process.pid}); log: {slot.log_path}")

    def _watch(self, slot: Slot) -> None:
        code = slot.process.poll()
        state = AgentState.read(slot.state_path)  # read after poll: final once it has exited
        self._report(slot, state)
        if code is None:
            return
        current = state.get("current")
        if current:  # the agent process died during a run, which could not record its end
            reason = f"its agent process died ({describe_exit(code)})"
            status = "interrupted" if self.stopping else "failed"
            record_lost_run(Path(current["run_dir"]), current.get("name"), reason, status)
            slot.lost.append(current["run_id"])
            self.echo(f"{slot.label}: {current.get('name')} (W&B run {current['run_id']}) "
                      f"{status}: {reason}")
        slot.ended = state.get("ended", [])
        slot.gave_up = state.get("gave_up") or slot.gave_up
        slot.exit_code = code
        slot.done = True

    def _report(self, slot: Slot, state: dict) -> None:
        ended = state.get("ended") or []
        current = state.get("current")
        shown_ended, shown_current = slot.reported
        for run in ended[shown_ended:]:
            error = f": {run['error']}" if run.get("error") else ""
            self.echo(f"{slot.label}: {run.get('name')} (W&B run {run.get('run_id')}) "
                      f"{run.get('state')}{error}")
        if current and current.get("run_id") != shown_current:
            self.echo(f"{slot.label}: {current['name']} (W&B run {current['run_id']}) started "
                      f"in {current['run_dir']}")
        slot.reported = (len(ended), current.get("run_id") if current else None)

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))


def describe_slots(slots: list[Slot]) -> list[str]:
    """One line per slot for the end of `sslexp sweep agents`."""
    lines = []
    for slot in slots:
        states: dict[str, int] = {}
        for run in slot.ended:
            states[run.get("state") or "unknown"] = states.get(run.get("state") or "unknown",
                                                               0) + 1
        if slot.lost:
            states["lost"] = len(slot.lost)
        runs = ", ".join(f"{count} {state}" for state, count in states.items()) or "no runs"
        status = "not started" if slot.exit_code is None else describe_exit(slot.exit_code)
        gave_up = f"; {slot.gave_up}" if slot.gave_up else ""
        lines.append(f"{slot.label}: {runs}; {status}{gave_up}")
    return lines
