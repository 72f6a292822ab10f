"""Long-lived agent processes for a sweep on the W&B server, watched from here.

Each agent slot (a GPU, or a share of one with ``per_gpu``) runs one process
(``sslexp.sweep.agent_worker``) that calls ``wandb.agent`` and executes every
run it is given in-process, so TensorFlow starts once per slot rather than once
per run. The process says which run it is executing in a small state file. A
process that dies during a run, or whose run outlives ``run_timeout_s``
(wedged), is killed; the run is recorded as failed in its results.json
(which the W&B server cannot learn from a dead process) and a new process takes
the slot, with what is left of its ``count``. The first Ctrl-C or SIGTERM is
passed to every process (the running runs are recorded as interrupted); a
second kills them.
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

from sslexp.runs.record import Record, now, read_record, write_json_atomic, write_record
from sslexp.sweep.online import environment_with_this_python_first
from sslexp.sweep.processes import pass_signal

MAX_REPLACEMENTS = 3  # in a row, without a run that ended on its own
POLL_S = 0.5


class AgentState:
    """The state file one agent process writes and the pool reads (whole, atomically)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.data = {"pid": os.getpid(), "started": 0, "current": None, "ended": []}

    def begin(self, run_id: str, name: str, run_dir: Path) -> None:
        self.data["started"] += 1
        self.data["current"] = {"run_id": run_id, "name": name, "run_dir": str(run_dir),
                                "started_at": time.time()}
        write_json_atomic(self.path, self.data)

    def give_up(self, reason: str) -> None:
        """The wandb agent stopped asking for runs on its own rule; the pool's summary says so."""
        self.data["gave_up"] = reason
        write_json_atomic(self.path, self.data)

    def end(self, run_id: str, state: str) -> None:
        current = self.data["current"] or {"run_id": run_id}
        self.data["ended"].append({**current, "state": state, "ended_at": time.time()})
        self.data["current"] = None
        write_json_atomic(self.path, self.data)

    @staticmethod
    def read(path: Path) -> dict:
        import json

        try:
            return json.loads(Path(path).read_text())
        except (OSError, ValueError):
            return {"started": 0, "current": None, "ended": []}


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


@dataclass
class Slot:
    index: int
    gpu: str
    state_path: Path
    log_path: Path
    env: dict[str, str]
    started: int = 0  # runs started by earlier processes of this slot
    process: subprocess.Popen | None = None
    processes: int = 0
    replacements_in_a_row: int = 0
    exit_code: int | None = None
    lost: list[str] = field(default_factory=list)
    ended: list[dict] = field(default_factory=list)
    reported: tuple[int, str | None] = (0, None)  # (ended runs, current run id) already shown
    done: bool = False
    gave_up: str | None = None  # why the wandb agent stopped asking for runs, if it gave up

    @property
    def label(self) -> str:
        return f"agent {self.index} (GPU {self.gpu})"


def worker_command(options: PoolOptions, slot: Slot, count: int | None) -> list[str]:
    argv = [sys.executable, "-m", "sslexp.sweep.agent_worker", options.sweep_id,
            "--state", str(slot.state_path)]
    for name, value in (("--count", count), ("--project", options.project),
                        ("--entity", options.entity)):
        if value is not None:
            argv += [name, str(value)]
    return argv


class AgentPool:
    """The slots of one machine: start, watch, replace, stop."""

    def __init__(self, options: PoolOptions, base_env: Mapping[str, str] = os.environ,
                 echo: Callable[[str], None] = print,
                 command: Callable[[PoolOptions, Slot, int | None], list[str]] = worker_command):
        self.options = options
        self.echo = echo
        self.command = command
        self.stopping = False
        self._signals = 0
        logs = Path(options.logs_dir)
        logs.mkdir(parents=True, exist_ok=True)
        self.slots = []
        for index, gpu in enumerate(gpu for gpu in options.gpus for _ in range(options.per_gpu)):
            env = environment_with_this_python_first(dict(base_env))
            env.update(CUDA_VISIBLE_DEVICES=gpu, TF_FORCE_GPU_ALLOW_GROWTH="true")
            if options.group:
                env["SSLEXP_GROUP"] = options.group
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
        count = None
        if self.options.count is not None:
            count = self.options.count - slot.started
            if count <= 0:
                slot.done = True
                return
        slot.state_path.unlink(missing_ok=True)
        with open(slot.log_path, "ab") as log:
            slot.process = subprocess.Popen(
                self.command(self.options, slot, count), env=slot.env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        slot.processes += 1
        slot.reported = (0, None)
        self.echo(f"{slot.label} started (pid {slot.process.pid}); log: {slot.log_path}")

    def _watch(self, slot: Slot) -> None:
        code = slot.process.poll()
        state = AgentState.read(slot.state_path)  # read after poll: final once it has exited
        self._report(slot, state)
        current = state.get("current")
        timeout = self.options.run_timeout_s
        if code is None and current and timeout is not None and (
                time.time() - current["started_at"] > timeout):
            self._kill(slot.process)
            self._lost(slot, current, f"it ran longer than --run-timeout {timeout:g} s "
                                      "(wedged?): its agent process was killed")
            code = slot.process.wait()
        elif code is not None and current:  # interrupted when the user killed it
            self._lost(slot, current, f"its agent process died ({_exit_text(code)})",
                       "interrupted" if self.stopping else "failed")
        if code is None:
            return
        slot.started += state.get("started", 0)
        slot.ended += state.get("ended", [])
        slot.gave_up = state.get("gave_up") or slot.gave_up
        lost_a_run = bool(current)
        if lost_a_run:  # a process that also ended runs of its own restarts the tally
            slot.replacements_in_a_row = 1 if state.get("ended") else (
                slot.replacements_in_a_row + 1)
        if lost_a_run and not self.stopping and slot.replacements_in_a_row <= MAX_REPLACEMENTS:
            self.echo(f"{slot.label}: starting a new agent process in its place")
            self._start(slot)
            if not slot.done:
                return
        elif lost_a_run and not self.stopping:
            self.echo(f"{slot.label}: {MAX_REPLACEMENTS} processes in a row lost their run; "
                      "not replacing it again (see its log)")
        slot.exit_code = code
        slot.done = True

    def _report(self, slot: Slot, state: dict) -> None:
        ended = state.get("ended") or []
        current = state.get("current")
        shown_ended, shown_current = slot.reported
        for run in ended[shown_ended:]:
            self.echo(f"{slot.label}: {run.get('name')} (W&B run {run.get('run_id')}) "
                      f"{run.get('state')}")
        if current and current.get("run_id") != shown_current:
            self.echo(f"{slot.label}: {current['name']} (W&B run {current['run_id']}) started "
                      f"in {current['run_dir']}")
        slot.reported = (len(ended), current.get("run_id") if current else None)

    def _lost(self, slot: Slot, current: dict, reason: str, state: str = "failed") -> None:
        record_lost_run(Path(current["run_dir"]), current.get("name"), reason, state)
        slot.lost.append(current["run_id"])
        self.echo(f"{slot.label}: {current.get('name')} (W&B run {current['run_id']}) {state}: "
                  f"{reason}")

    def _kill(self, process: subprocess.Popen) -> None:
        """A wedged process is not asked: it and its children (a pretraining) are killed."""
        pass_signal([process], signal.SIGKILL, forceful=True)

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))


def record_lost_run(run_dir: Path, name: str | None, reason: str,
                    state: str = "failed") -> Record:
    """A run whose process is gone ends as ``state`` in its results.json, with the reason."""
    record = read_record(run_dir) or Record(kind="train", name=name)  # none: state running
    if record.state == "running":
        record.state = state
        record.error = {"type": "AgentProcessLost", "message": reason, "traceback": None}
        record.finished_at = now()
        write_record(run_dir, record)
    return record


def describe_slots(slots: list[Slot]) -> list[str]:
    """One line per slot for the end of `sslexp sweep agents`."""
    lines = []
    for slot in slots:
        states: dict[str, int] = {}
        for run in slot.ended:
            states[run.get("state") or "unknown"] = states.get(run.get("state") or "unknown",
                                                               0) + 1
        for _ in slot.lost:
            states["lost"] = states.get("lost", 0) + 1
        runs = ", ".join(f"{count} {state}" for state, count in states.items()) or "no runs"
        status = "not started" if slot.exit_code is None else f"exit status {slot.exit_code}"
        replaced = f", {slot.processes - 1} process(es) replaced" if slot.processes > 1 else ""
        gave_up = f"; {slot.gave_up}" if slot.gave_up else ""
        lines.append(f"{slot.label}: {runs}; {status}{replaced}{gave_up}")
    return lines


def _exit_text(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"
