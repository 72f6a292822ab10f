"""Fault injection: the sweep stand-in of tests/sweep, taught to die in the ways real runs
do, and helpers that run a sweep as its own process."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.sweep.standins import STANDIN_TRAIN, Standin

# Runs before the stand-in's own code; steered by environment variables:
#   STANDIN_KILL_SELF    value of `a` whose runs SIGKILL themselves (as the OOM killer does)
#   STANDIN_KILL_WORKER  value of `a` whose runs SIGKILL their parent (the sweep), then themselves
#   STANDIN_PROGRESS     seconds per epoch of a 2-epoch pretrain phase, then a 2-epoch train
#                        phase, written to the run's progress file as sslexp writes it
PREAMBLE = r"""
import os, signal, sys, time
_a = dict(arg[2:].split("=", 1) for arg in sys.argv[1:]).get("a")
if os.environ.get("STANDIN_PROGRESS"):
    from sslexp.runs.protocol import progress_path, write_progress
    _path = progress_path(os.environ["SSLEXP_OUTPUT_DIR"])
    os.makedirs(_path.parent, exist_ok=True)
    for _phase in ("pretrain", "train"):
        for _epoch in (1, 2):
            write_progress(_path, _phase, _epoch, 2, 0, 4)
            time.sleep(float(os.environ["STANDIN_PROGRESS"]))
        write_progress(_path, _phase, 2, 2, 4, 4, ended=True)
if os.environ.get("STANDIN_KILL_WORKER") == _a:
    os.kill(os.getppid(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)
if os.environ.get("STANDIN_KILL_SELF") == _a:
    os.kill(os.getpid(), signal.SIGKILL)
"""


class FaultStandin(Standin):
    def __init__(self, directory: Path):
        super().__init__(directory)
        self.script.write_text(PREAMBLE + STANDIN_TRAIN)

    def ends(self) -> list[dict]:
        return [record for record in self.records() if record["event"] == "end"]


def sweep_command(sweep_file: Path, sweep_dir: Path, *options: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "sslexp",
        "sweep",
        "local",
        str(sweep_file),
        "--dir",
        str(sweep_dir),
        "--wandb-mode",
        "disabled",
        *options,
    ]


def run_sweep_process(sweep_file, sweep_dir, env, *options, timeout_s: float = 120):
    return subprocess.run(
        sweep_command(sweep_file, sweep_dir, *options),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def wait_for(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
