"""A run stopped from W&B while one in-process agent runs it: recorded as interrupted (not
failed, and not held against the agent), its grid point filled by `sslexp sweep fill` as a
new run of the same sweep, and counted once by the report from W&B."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

import sslexp
from sslexp.runs.lifecycle import STOPPED_FROM_WANDB
from sslexp.runs.record import read_record
from tests.wandb_standins.server import fake_wandb

ENTITY, PROJECT = "acme-team", "rotnet-study"
# Long enough for the stop to arrive (the agent reports to W&B every 5 s, and the stop comes
# once the run has reached the server), short enough to run again.
POINT = {
    "dataset": "digits",
    "image_size": 8,
    "depth": 8,
    "width": 4,
    "method": "scratch",
    "label_fraction": 0.1,
    "fold": 0,
    "budget": "matched",
    "max_updates": 2000,
}
CONFIG = {
    "name": "stoppable",
    "method": "grid",
    "metric": {"name": "test/accuracy", "goal": "maximize"},
    "parameters": {
        **{name: {"value": value} for name, value in POINT.items()},
        "fold": {"values": [0]},
    },
    "command": ["${env}", "${interpreter}", "-m", "sslexp", "train", "${args}"],
}


def sslexp_command(*argv, cwd, env):
    return subprocess.run(
        [sys.executable, "-m", "sslexp", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_a_stopped_point_is_interrupted_then_filled_and_reported_once(
    tmp_path, data_cache, monkeypatch
):
    with fake_wandb(monkeypatch, tmp_path) as backend:
        backend.add_sweep("swp9", [("runstop1", POINT)], CONFIG, entity=ENTITY, project=PROJECT)
        backend.stop_run("runstop1")
        env = {
            **os.environ,
            "SSLEXP_CACHE_DIR": str(data_cache),
            "PYTHONPATH": str(Path(sslexp.__file__).resolve().parents[1]),
        }
        path = f"{ENTITY}/{PROJECT}/swp9"
        agents = sslexp_command(
            "sweep",
            "agents",
            path,
            "--count",
            "1",
            "--stagger",
            "0",
            "--logs",
            str(tmp_path / "agents"),
            cwd=tmp_path,
            env=env,
        )
        assert agents.returncode == 0, agents.stdout + agents.stderr
        assert "1 interrupted; exit status 0" in agents.stdout
        stopped = read_record(tmp_path / "runs" / "scratch-p0.1-fold0-runstop1")
        assert stopped.state == "interrupted" and stopped.error["type"] == STOPPED_FROM_WANDB

        dry = sslexp_command("sweep", "fill", path, "--dry-run", cwd=tmp_path, env=env)
        assert dry.returncode == 0, dry.stdout + dry.stderr
        assert f"{path}: 1 of 1 grid point(s) have no finished run" in dry.stdout
        assert "fold=0 (tried: runstop1 (failed))" in dry.stdout

        filled = sslexp_command("sweep", "fill", path, cwd=tmp_path, env=env)
        assert filled.returncode == 0, filled.stdout + filled.stderr
        assert "filled 1 of 1 grid point(s)" in filled.stdout
        (new_run,) = [run for run in backend.runs.values() if run["name"] != "runstop1"]
        assert (new_run["entity"], new_run["project"]) == (ENTITY, PROJECT)
        assert new_run["sweep"] == "swp9" and new_run["groupName"] == "swp9"
        assert new_run["state"] == "finished"
        assert new_run["displayName"] == "scratch-p0.1-fold0"

        again = sslexp_command("sweep", "fill", path, "--dry-run", cwd=tmp_path, env=env)
        assert "0 of 1 grid point(s) have no finished run" in again.stdout

        report = sslexp_command(
            "report",
            "--wandb",
            f"{ENTITY}/{PROJECT}",
            "--sweep",
            "swp9",
            "--pictures=false",
            "--publish=false",
            "--out",
            str(tmp_path / "report"),
            cwd=tmp_path,
            env=env,
        )
        assert report.returncode == 0, report.stdout + report.stderr
        with open(tmp_path / "report" / "runs.csv") as handle:
            rows = list(csv.DictReader(handle))
        assert len(rows) == 1 and rows[0]["state"] == "finished"
        backend.assert_clean()
