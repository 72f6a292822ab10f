"""kill -9 at seeded random points of a sweep (the sweep process, or one of its runs), then
the same command again: every grid point ends finished exactly once and no finished record
ever changes. And two sweep processes on one directory, one of them killed."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
from collections import Counter
from pathlib import Path

import psutil
import pytest

from tests.faults.helpers import run_sweep_process, sweep_command, wait_for

GRID = sorted((("a", a), ("b", b)) for a in ("1", "2", "3") for b in ("x", "y"))
SEED = 9
ROUNDS = 3


def ledger_runs(sweep_dir: Path) -> dict:
    try:
        return json.loads((sweep_dir / "ledger.json").read_text())["runs"]
    except (OSError, ValueError, KeyError):
        return {}


def finished_records(sweep_dir: Path) -> dict[Path, bytes]:
    """Every finished results.json under runs/ and partial/, by path."""
    found = {}
    for path in sweep_dir.glob("*/**/results.json"):
        try:
            if json.loads(path.read_bytes()).get("state") == "finished":
                found[path] = path.read_bytes()
        except ValueError:
            pass
    return found


def point_of(path: Path, sweep_dir: Path) -> tuple:
    """The grid point of a run directory (its name, e.g. ``a-1-b-x``)."""
    run_name = path.relative_to(sweep_dir).parts[1]
    parts = run_name.split("-")
    return tuple(sorted(zip(parts[0::2], parts[1::2])))


def running_runs(sweep_dir: Path) -> list[dict]:
    return [
        entry
        for entry in ledger_runs(sweep_dir).values()
        if entry["state"] == "running" and (entry.get("worker") or {}).get("run")
    ]


def kill_at_random_points(
    process: subprocess.Popen, sweep_dir: Path, rng: random.Random
) -> list[str]:
    """At random moments while runs are in flight: SIGKILL the process of one running run,
    or the sweep itself, or one run and later the sweep. Returns what was killed."""
    plan = rng.choice([["run"], ["sweep"], ["run", "sweep"]])
    killed = []
    for target in plan:
        try:
            wait_for(
                lambda: running_runs(sweep_dir) or process.poll() is not None, 60, "a run in flight"
            )
            process.wait(timeout=rng.uniform(0.0, 1.5))
            return killed  # the sweep ended before that moment
        except subprocess.TimeoutExpired:
            pass
        flying = running_runs(sweep_dir)
        if target == "sweep" or not flying:
            os.kill(process.pid, signal.SIGKILL)
            return killed + ["sweep"]
        try:
            os.kill(rng.choice(flying)["worker"]["run"]["pid"], signal.SIGKILL)
            killed.append("run")
        except ProcessLookupError:
            pass
    return killed


@pytest.mark.slow
def test_kill_9_at_random_points_then_resume_finishes_every_point_exactly_once(standin, tmp_path):
    rng = random.Random(SEED)
    sweep_file = standin.make_sweep()
    sweep_dir = tmp_path / "sweep"
    env = standin.env(STANDIN_SLEEP="1.5")
    seen: dict[Path, bytes] = {}
    kills = []
    for _ in range(ROUNDS):
        process = subprocess.Popen(
            sweep_command(sweep_file, sweep_dir, "--workers", "2", "--max-kills", "10"),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            kills += kill_at_random_points(process, sweep_dir, rng)
            process.wait(timeout=120)
        finally:
            process.kill()
        for entry in ledger_runs(sweep_dir).values():  # finished in the ledger: never changes
            if entry["state"] == "finished":
                record = (sweep_dir / entry["results_file"]).read_bytes()
                assert seen.setdefault(sweep_dir / entry["results_file"], record) == record
    assert {"sweep", "run"} <= set(kills), kills

    final = run_sweep_process(sweep_file, sweep_dir, env, "--workers", "2")
    assert final.returncode == 0, final.stderr
    runs = ledger_runs(sweep_dir)
    assert (
        sorted(tuple(sorted((k, str(v)) for k, v in e["config"].items())) for e in runs.values())
        == GRID
    )
    assert {entry["state"] for entry in runs.values()} == {"finished"}
    records = finished_records(sweep_dir)
    assert Counter(point_of(path, sweep_dir) for path in records) == Counter(GRID), (
        "a grid point finished more than once, or not at all"
    )
    assert all(path.parts[-3] == "runs" for path in records)
    for path, content in seen.items():
        assert path.read_bytes() == content, f"{path} changed after it finished"
    assert max(Counter(tuple(sorted(r["args"].items())) for r in standin.ends()).values()) == 1
    leftover = [
        p
        for p in psutil.process_iter(["cmdline"])
        if str(standin.script) in " ".join(p.info["cmdline"] or [])
        and p.status() != psutil.STATUS_ZOMBIE
    ]
    assert leftover == [], "a run process outlived its sweep"


@pytest.mark.slow
def test_two_sweeps_started_together_one_killed_the_other_finishes_the_grid(standin, tmp_path):
    sweep_file = standin.make_sweep()
    sweep_dir = tmp_path / "sweep"
    env = standin.env(STANDIN_SLEEP="0.5")
    command = sweep_command(sweep_file, sweep_dir)
    doomed, survivor = (
        subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    )
    try:
        wait_for(
            lambda: any(
                (entry.get("worker") or {}).get("pid") == doomed.pid and entry["state"] == "running"
                for entry in ledger_runs(sweep_dir).values()
            ),
            60,
            "the first sweep to run something",
        )
        doomed.kill()
        _, errors = survivor.communicate(timeout=120)
    finally:
        doomed.kill()
        survivor.kill()
    assert survivor.returncode == 0, errors
    runs = ledger_runs(sweep_dir)
    assert {entry["state"] for entry in runs.values()} == {"finished"} and len(runs) == 6
    records = finished_records(sweep_dir)
    assert Counter(point_of(path, sweep_dir) for path in records) == Counter(GRID)
