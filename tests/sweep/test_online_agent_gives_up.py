"""When wandb's agent gives up (its rule: a third failed run within its first 60 s), the
slot's summary says so and why, and `sslexp sweep agents` exits 1 instead of 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import sslexp
from sslexp.sweep.agent import gave_up_reason
from tests.wandb_standins.server import fake_wandb

BROKEN = {"dataset": "digits", "image_size": 8, "depth": 8, "width": 4, "method": "scratch",
          "label_fraction": 5, "fold": 0}  # refused by `sslexp train`: exit status 2


def test_three_early_failures_are_wandbs_reason_to_give_up():
    ended = [{"state": "failed", "ended_at": 100 + i} for i in range(3)]
    assert "3 runs failed within its first 60 s" in gave_up_reason(ended, 90, environ={})
    assert gave_up_reason(ended[:2], 90, environ={}) is None
    assert gave_up_reason(ended, 0, environ={}) is None  # after its first minute
    assert gave_up_reason(ended, 90, environ={"WANDB_AGENT_DISABLE_FLAPPING": "true"}) is None


@pytest.mark.slow
def test_a_slot_whose_wandb_agent_gave_up_says_why_and_fails(tmp_path, monkeypatch):
    with fake_wandb(monkeypatch, tmp_path) as backend:
        backend.add_sweep("swp3", [(f"broken{i}", {**BROKEN, "fold": i}) for i in range(5)],
                          entity="acme-team", project="rotnet-study")
        env = {**os.environ, "PYTHONPATH": str(Path(sslexp.__file__).resolve().parents[1])}
        agents = subprocess.run(
            [sys.executable, "-m", "sslexp", "sweep", "agents", "acme-team/rotnet-study/swp3",
             "--stagger", "0", "--logs", str(tmp_path / "agents")],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert len(backend.sweeps["swp3"]) == 3  # two runs and the exit never handed out
        backend.assert_clean()
    assert agents.returncode == 1, agents.stdout + agents.stderr
    (line,) = agents.stdout.splitlines()
    assert line.startswith("agent 0 (GPU 0): 3 failed; exit status 1; the wandb agent gave up: "
                           "3 runs failed within its first 60 s")
