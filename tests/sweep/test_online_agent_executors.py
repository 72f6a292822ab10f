"""An online agent runs its runs through the executors `sweep local` uses: in one
long-lived worker its second run reuses the compiled training step of its first, and
each run's `wandb.init` joins the run the W&B server handed the agent, in the worker or,
with --isolate, in a process of its own (loopback W&B server, wandb client unmodified)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import sslexp
from sslexp.runs.record import read_record
from tests.wandb_standins.server import fake_wandb

REUSED = "reusing the compiled steps of an earlier run in this process"


def scratch_run(fold: int) -> dict:
    return {"dataset": "digits", "image_size": 8, "depth": 8, "width": 4, "method": "scratch",
            "label_fraction": 0.1, "fold": fold, "budget": "matched", "max_updates": 2}


def run_agents(tmp_path, data_cache, *options: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SSLEXP_CACHE_DIR": str(data_cache),
           "PYTHONPATH": str(Path(sslexp.__file__).resolve().parents[1])}
    return subprocess.run(
        [sys.executable, "-m", "sslexp", "sweep", "agents", "--stagger", "0",
         "--logs", str(tmp_path / "agents"), *options],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_an_online_agents_second_run_reuses_the_compiled_step_of_its_first(tmp_path,
                                                                           monkeypatch,
                                                                           data_cache):
    with fake_wandb(monkeypatch, tmp_path) as backend:
        backend.add_sweep("swp2", [("runone01", scratch_run(0)), ("runtwo02", scratch_run(1))],
                          entity="team", project="sslexp")
        agents = run_agents(tmp_path, data_cache, "team/sslexp/swp2", "--count", "2")
        run_dirs = [tmp_path / "runs" / f"scratch-p0.1-fold{fold}-{run_id}"
                    for fold, run_id in ((0, "runone01"), (1, "runtwo02"))]
        logs = [(run_dir / "output.log").read_text() if (run_dir / "output.log").exists()
                else "" for run_dir in run_dirs]
        assert agents.returncode == 0, agents.stdout + agents.stderr + "".join(logs)
        assert "agent 0 (GPU 0): 2 finished; exit status 0" in agents.stdout

        assert [read_record(run_dir).state for run_dir in run_dirs] == ["finished", "finished"]
        assert REUSED not in logs[0] and REUSED in logs[1]

        runs = {run["name"]: run for run in backend.runs.values()}
        for run_id, name in (("runone01", "scratch-p0.1-fold0"),
                             ("runtwo02", "scratch-p0.1-fold1")):
            assert runs[run_id]["sweep"] == "swp2" and runs[run_id]["displayName"] == name
        assert [read_record(run_dir).wandb["run_id"] for run_dir in run_dirs] == [
            "runone01", "runtwo02"]
        backend.assert_clean()


@pytest.mark.slow
def test_an_isolated_online_run_is_a_process_of_its_own_joining_the_agents_run(
        tmp_path, monkeypatch, data_cache):
    with fake_wandb(monkeypatch, tmp_path) as backend:
        backend.add_sweep("swp3", [("runiso01", scratch_run(0))], entity="team",
                          project="sslexp")
        agents = run_agents(tmp_path, data_cache, "team/sslexp/swp3", "--count", "1",
                            "--isolate")
        run_dir = tmp_path / "runs" / "scratch-p0.1-fold0-runiso01"
        log = (run_dir / "output.log").read_text() if (run_dir / "output.log").exists() else ""
        assert agents.returncode == 0, agents.stdout + agents.stderr + log
        assert "agent 0 (GPU 0): 1 finished; exit status 0" in agents.stdout
        assert read_record(run_dir).state == "finished"
        assert log.startswith(f"$ /usr/bin/env {sys.executable} -m sslexp train ")
        (run,) = backend.runs.values()
        assert run["name"] == "runiso01" and run["sweep"] == "swp3"
        backend.assert_clean()
