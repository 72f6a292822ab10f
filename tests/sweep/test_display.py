"""What `sweep local` shows: the bar, the runs in flight, automatic pretraining, time left."""

from __future__ import annotations

import io

from sslexp.runs.protocol import progress_path, write_progress
from sslexp.sweep.display import SweepDisplay
from sslexp.sweep.ledger import Ledger
from tests.sweep.test_monitor import add_run


def sweep_with_runs_in_flight(tmp_path) -> Ledger:
    ledger = Ledger(tmp_path)
    pretraining = add_run(ledger, "r1", "ssl-p0.1-fold0")
    write_progress(progress_path(pretraining), "pretrain", 2, 15, 3, 10)
    waiting = add_run(ledger, "r2", "ssl-p0.1-fold1")
    write_progress(
        progress_path(waiting),
        "pretrain",
        0,
        15,
        detail="waiting for digits-8px, pretrained by another run",
    )
    training = add_run(ledger, "r3", "scratch-p0.1-fold0")
    write_progress(progress_path(training), "train", 4, 30, 7, 12)
    return ledger


def test_a_log_gets_a_line_per_phase_change_and_pretraining_is_announced(tmp_path):
    stream = io.StringIO()
    display = SweepDisplay(
        sweep_with_runs_in_flight(tmp_path), workers=3, stream=stream, interactive=False
    )
    display.open(total=6, initial=1, description="demo", poll=False)
    display.poll()
    display.poll()  # nothing changed: nothing new
    display.close()
    lines = [line.strip() for line in stream.getvalue().replace("\r", "\n").splitlines()]
    assert (
        lines.count(
            "ssl-p0.1-fold0: no cached backbone, so it pretrains one first "
            "(15 pretext epochs); runs needing the same backbone wait"
        )
        == 1
    )
    assert lines.count("ssl-p0.1-fold1: waiting for digits-8px, pretrained by another run") == 1
    assert (
        sum(line.startswith("ssl-p0.1-fold0  pretrain  epoch 2/15  step 3/10") for line in lines)
        == 1
    )
    assert (
        sum(line.startswith("scratch-p0.1-fold0  train  epoch 4/30  step 7/12") for line in lines)
        == 1
    )
    assert "1/6 runs" in stream.getvalue() and "left" in stream.getvalue()


def test_a_terminal_shows_each_run_in_flight_under_the_bar(tmp_path):
    stream = io.StringIO()
    display = SweepDisplay(
        sweep_with_runs_in_flight(tmp_path), workers=2, stream=stream, interactive=True
    )
    display.open(total=6, initial=0, description="demo", poll=False)
    display.poll()
    shown = stream.getvalue()
    display.close()
    assert "ssl-p0.1-fold0  pretrain  epoch 2/15" in shown
    assert "ssl-p0.1-fold1  pretrain  waiting for digits-8px" in shown
    assert "(+1 more)" in shown  # three runs in flight, two lines


def test_run_ends_are_counted_and_failures_shown(tmp_path):
    stream = io.StringIO()
    display = SweepDisplay(Ledger(tmp_path), workers=1, stream=stream, interactive=False)
    display.open(total=2, initial=0, description="demo", poll=False)
    display.run_ended("r1", {"name": "a-1", "state": "finished"})
    display.run_ended("r2", {"name": "a-2", "state": "interrupted", "error": "killed by SIGKILL"})
    display.close()
    assert "a-2 interrupted: killed by SIGKILL" in stream.getvalue()
    assert "1/2 runs" in stream.getvalue()
