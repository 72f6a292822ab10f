"""Runs in flight and the time left, from the ledger and the runs' progress files."""

from __future__ import annotations

import json

import pytest

from sslexp.runs.protocol import progress_path, write_progress
from sslexp.sweep.ledger import Ledger, new_entry
from sslexp.sweep.monitor import (
    InFlight,
    format_duration,
    in_flight,
    phase_seconds_left,
    run_seconds,
    time_left,
)


def add_run(
    ledger: Ledger,
    run_id: str,
    name: str,
    state: str = "running",
    started_at: str = "2026-01-01T00:00:00+00:00",
    **fields,
):
    with ledger.transaction() as data:
        entry = new_entry({"a": run_id})
        entry.update(
            name=name, run_dir=f"runs/{name}", state=state, started_at=started_at, **fields
        )
        data["runs"][run_id] = entry
    return ledger.sweep_dir / "runs" / name


def test_runs_in_flight_show_name_phase_epoch_and_step(tmp_path):
    ledger = Ledger(tmp_path)
    pretraining = add_run(ledger, "r1", "ssl-p0.1-fold0")
    write_progress(progress_path(pretraining), "pretrain", 3, 15, 40, 200)
    add_run(ledger, "r2", "scratch-p0.1-fold0", started_at="2026-01-01T00:00:05+00:00")
    add_run(ledger, "r3", "done", state="finished")
    flying = in_flight(ledger, ledger.read())
    assert [run.name for run in flying] == ["ssl-p0.1-fold0", "scratch-p0.1-fold0"]
    assert flying[0].describe().startswith("ssl-p0.1-fold0  pretrain  epoch 3/15  step 40/200")
    assert flying[1].describe() == "scratch-p0.1-fold0  starting"


def test_a_run_waiting_for_another_runs_pretraining_says_so(tmp_path):
    waiting = InFlight(
        "r1",
        "ssl-p0.2-fold0",
        "pretrain",
        0,
        15,
        detail="waiting for digits-16px, pretrained by another run",
    )
    assert waiting.waiting
    assert waiting.describe() == (
        "ssl-p0.2-fold0  pretrain  waiting for digits-16px, pretrained by another run"
    )


def test_the_phase_left_follows_its_pace_so_far():
    progress = {
        "phase": "train",
        "epoch": 2,
        "epochs": 10,
        "step": 50,
        "steps": 100,
        "updated_at": 1150.0,
        "phases": {"train": {"started_at": 1000.0}},
    }
    # 1.5 of 10 epochs took 150 s: 8.5 epochs at 100 s each are left
    assert phase_seconds_left(progress, now=1150.0) == pytest.approx(850.0)
    assert phase_seconds_left({**progress, "epoch": 1, "step": 0}, now=1150.0) is None


def test_finished_runs_are_timed_without_their_pretraining(tmp_path):
    ledger = Ledger(tmp_path)
    run_dir = add_run(
        ledger, "r1", "ssl", state="finished", finished_at="2026-01-01T00:10:00+00:00"
    )
    path = progress_path(run_dir)
    write_progress(path, "pretrain", 1, 1)
    data = json.loads(path.read_text())
    data["phases"]["pretrain"] = {"started_at": 0.0, "ended_at": 420.0}  # 7 of its 10 minutes
    path.write_text(json.dumps(data))
    add_run(ledger, "r2", "scratch", state="finished", finished_at="2026-01-01T00:02:00+00:00")
    assert sorted(run_seconds(ledger, ledger.read())) == [120.0, 180.0]


def test_time_left_spreads_the_remaining_work_over_the_workers():
    training = InFlight("r1", "a", "train", 2, 10, phase_seconds_left=100.0)
    pretraining = InFlight("r2", "b", "pretrain", 1, 5, phase_seconds_left=300.0)
    assert time_left([training], queued=3, workers=2, finished_seconds=[200.0]) == 350.0
    assert time_left([pretraining], queued=0, workers=1, finished_seconds=[200.0]) == 500.0
    assert time_left([training], queued=1, workers=1, finished_seconds=[]) == 200.0
    assert time_left([InFlight("r3", "c")], queued=2, workers=1, finished_seconds=[]) is None


def test_durations_read_well():
    assert [format_duration(s) for s in (12, 600, 5400, 7260)] == [
        "12 s",
        "10 min",
        "1 h 30 min",
        "2 h 01 min",
    ]
