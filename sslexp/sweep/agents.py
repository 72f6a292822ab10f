"""One ``wandb agent`` per GPU for an online sweep.

Agents start a few seconds apart (agents started at the same instant can be
handed the same first configuration), each sees only its GPU through
``CUDA_VISIBLE_DEVICES``, and Ctrl-C/SIGTERM is passed to every agent once
(a second one kills them). Agents run with ``--forward-signals`` so their runs
get the chance to write an ``interrupted`` results file.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sslexp.sweep.signals import pass_signal
from sslexp.sweep.wandb_cli import environment_with_this_python_first


@dataclass(frozen=True)
class AgentSpec:
    gpu: str
    argv: list[str]
    env: dict[str, str]


def parse_gpus(text: str) -> tuple[str, ...]:
    """``"0,1, 2"`` -> ``("0", "1", "2")``; ValueError for an empty or malformed list."""
    gpus = tuple(part.strip() for part in text.split(","))
    if not gpus or any(not gpu for gpu in gpus):
        raise ValueError(f"expected GPU indices separated by commas, like 0,1,2,3; got {text!r}.")
    if len(set(gpus)) != len(gpus):
        raise ValueError(f"each GPU may appear once in {text!r}; to run two workers per GPU use --workers.")
    return gpus


def agent_specs(
    sweep_id: str,
    gpus: tuple[str, ...],
    wandb: str,
    base_env: Mapping[str, str],
    count: int | None = None,
    project: str | None = None,
    entity: str | None = None,
) -> list[AgentSpec]:
    """The command line and environment of each agent, one per GPU."""
    argv = [wandb, "agent", "--forward-signals"]
    if count is not None:
        argv += ["--count", str(count)]
    if project:
        argv += ["--project", project]
    if entity:
        argv += ["--entity", entity]
    argv.append(sweep_id)
    specs = []
    for gpu in gpus:
        env = environment_with_this_python_first(dict(base_env))
        env["CUDA_VISIBLE_DEVICES"] = gpu
        env["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
        specs.append(AgentSpec(gpu=gpu, argv=list(argv), env=env))
    return specs


class AgentGroup:
    """Start agents staggered, pass signals on, wait, and collect exit codes."""

    def __init__(self, specs: list[AgentSpec], stagger_s: float, echo: Callable[[str], None] = print):
        self.specs = specs
        self.stagger_s = stagger_s
        self.echo = echo
        self.processes: list[subprocess.Popen | None] = [None] * len(specs)
        self._signals_received = 0

    def handle_signal(self, signum: int) -> None:
        """First signal: pass it to each agent; second: kill them."""
        self._signals_received += 1
        forceful = self._signals_received > 1
        self.echo(
            "Stopping agents now (killing them)." if forceful else
            f"Passing {signal.Signals(signum).name} to the agents; send it again to kill them."
        )
        pass_signal(self.processes, signum, forceful)

    def run(self) -> list[int | None]:
        """Exit code of each agent (None for one never started because of a stop)."""
        for index, spec in enumerate(self.specs):
            if index:
                self._sleep_unless_stopped(self.stagger_s)
            if self._signals_received:
                break
            self.processes[index] = subprocess.Popen(spec.argv, env=spec.env, start_new_session=True)
            self.echo(f"agent {index} started on GPU {spec.gpu} (pid {self.processes[index].pid})")
        codes: list[int | None] = []
        for process in self.processes:
            if process is None:
                codes.append(None)
                continue
            while True:
                try:
                    codes.append(process.wait(timeout=0.2))
                    break
                except subprocess.TimeoutExpired:
                    continue
        return codes

    def _sleep_unless_stopped(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._signals_received and time.monotonic() < deadline:
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
