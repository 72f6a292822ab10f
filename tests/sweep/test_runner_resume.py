"""Resuming: a sweep killed outright, then the same command again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from sslexp.sweep.runner import LocalSweep, LocalSweepOptions
from sslexp.sweep.spec import load_sweep

GRID = sorted((("a", a), ("b", b)) for a in ("1", "2", "3") for b in ("x", "y"))


def sweep_command(sweep_file, sweep_dir):
    return [
        sys.executable,
        "-m",
        "sslexp",
        "sweep",
        "local",
        str(sweep_file),
        "--dir",
        str(sweep_dir),
    ]


def wait_for(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_a_sweep_killed_mid_run_resumes_with_every_point_finished_once(
    standin, ledger_of, tmp_path
):
    sweep_file = standin.make_sweep()
    sweep_dir = tmp_path / "sweep"
    first = subprocess.Popen(
        sweep_command(sweep_file, sweep_dir),
        env=standin.env(STANDIN_SLEEP="60"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def running_entry():
            if not (sweep_dir / "ledger.json").exists():
                return None
            for run_id, entry in ledger_of(sweep_dir)["runs"].items():
                if (
                    entry["state"] == "running"
                    and (entry["worker"] or {}).get("run")
                    and standin.starts()
                ):
                    return run_id, entry
            return None

        killed_run_id, killed_entry = wait_for(running_entry, 60, "a run to start")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        first.kill()
    orphan_pid = killed_entry["worker"]["run"]["pid"]
    assert (sweep_dir / killed_entry["run_dir"] / "partial.txt").exists()

    second = subprocess.run(
        sweep_command(sweep_file, sweep_dir),
        env=standin.env(STANDIN_SLEEP="0"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert second.returncode == 0, second.stderr

    ledger = ledger_of(sweep_dir)
    finished = [entry for entry in ledger["runs"].values() if entry["state"] == "finished"]
    assert len(ledger["runs"]) == len(finished) == 6
    assert (
        sorted(tuple(sorted((k, str(v)) for k, v in e["config"].items())) for e in finished) == GRID
    )
    assert ledger["runs"][killed_run_id]["attempts"] == 2
    # the killed attempt's files are set aside, not counted as the run's results
    assert not (sweep_dir / killed_entry["run_dir"] / "partial.txt").exists()
    assert (sweep_dir / "partial" / killed_entry["name"] / "attempt-1" / "partial.txt").exists()
    assert (
        not psutil.pid_exists(orphan_pid)
        or psutil.Process(orphan_pid).status() == psutil.STATUS_ZOMBIE
    )
    # the killed point ran twice in all, every other point once
    starts = sorted(standin.started_configs())
    assert sorted(set(starts)) == GRID and len(starts) == 7
    assert "6 finished" in second.stdout


def test_a_finished_run_whose_results_vanished_runs_again(standin, ledger_of, tmp_path):
    sweep_file = standin.make_sweep()
    sweep_dir = tmp_path / "sweep"
    options = LocalSweepOptions(sweep_dir=sweep_dir, base_env=standin.env())
    LocalSweep(load_sweep(sweep_file), options).run()
    lost_run_id, lost = sorted(ledger_of(sweep_dir)["runs"].items())[0]
    (sweep_dir / lost["run_dir"] / "results.json").unlink()

    ledger = LocalSweep(load_sweep(sweep_file), options).run()
    assert len(standin.starts()) == 7
    assert ledger["runs"][lost_run_id]["state"] == "finished"
    assert ledger["runs"][lost_run_id]["attempts"] == 2


@pytest.mark.slow
def test_two_sweep_processes_on_one_directory_share_the_grid(standin, ledger_of, tmp_path):
    sweep_file = standin.make_sweep()
    sweep_dir = tmp_path / "sweep"
    env = standin.env(STANDIN_SLEEP="1.5")
    first = subprocess.Popen(
        sweep_command(sweep_file, sweep_dir),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(standin.starts, 60, "the first process to start a run")
        second = subprocess.run(
            sweep_command(sweep_file, sweep_dir),
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert first.wait(timeout=120) == 0 and second.returncode == 0, second.stderr
    finally:
        first.kill()
    assert sorted(standin.started_configs()) == GRID, "a grid point ran twice or not at all"
    workers = {entry["worker"]["pid"] for entry in ledger_of(sweep_dir)["runs"].values()}
    assert first.pid in workers and len(workers) == 2, "both processes should have taken runs"
