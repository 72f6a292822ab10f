"""The end-of-sweep table."""

from __future__ import annotations

import json

from sslexp.sweep.ledger import new_entry
from sslexp.sweep.summary import format_summary, varying_parameters


def entry(config, state, **fields):
    return {**new_entry(config), "state": state, **fields}


def test_the_table_shows_varying_parameters_states_and_the_metric(tmp_path):
    (tmp_path / "runs" / "r1").mkdir(parents=True)
    (tmp_path / "runs" / "r1" / "results.json").write_text(
        json.dumps({"state": "finished", "test": {"accuracy": 0.875}})
    )
    ledger = {
        "sweep": "s",
        "runs": {
            "r1": entry(
                {"p": 0.1, "method": "ssl", "epochs": 3},
                "finished",
                results_file="runs/r1/results.json",
                exit_code=0,
                attempts=1,
                started_at="2025-01-01T00:00:00+00:00",
                finished_at="2025-01-01T00:03:00+00:00",
            ),
            "r2": entry(
                {"p": 0.02, "method": "scratch", "epochs": 3},
                "failed",
                exit_code=1,
                attempts=1,
                error="exited with status 1: boom",
            ),
        },
    }
    text = format_summary(tmp_path, ledger, "test/accuracy")
    header, _, first, second = text.splitlines()[:4]
    assert header.split() == [
        "run",
        "p",
        "method",
        "state",
        "exit",
        "test/accuracy",
        "%",
        "minutes",
        "tries",
    ]
    assert first.split()[:3] == ["r2", "0.02", "scratch"], "rows are sorted by parameter values"
    assert second.split() == ["r1", "0.1", "ssl", "finished", "0", "87.50", "3.0", "1"]
    assert "1 finished, 1 failed (2 runs)" in text
    assert "r2 failed: exited with status 1: boom" in text


def test_varying_parameters_ignore_constants():
    runs = {"a": entry({"x": 1, "y": 1}, "finished"), "b": entry({"x": 2, "y": 1}, "finished")}
    assert varying_parameters(runs) == ["x"]


def test_chosen_columns_replace_the_varying_ones(tmp_path):
    ledger = {"runs": {"only": entry({"p": 0.1, "method": "ssl", "epochs": 3}, "running")}}
    header = format_summary(
        tmp_path, ledger, "test/accuracy", columns=["p", "method"]
    ).splitlines()[0]
    assert header.split()[:3] == ["run", "p", "method"]


def test_a_metric_other_than_an_accuracy_is_shown_as_it_is(tmp_path):
    (tmp_path / "runs" / "r1").mkdir(parents=True)
    (tmp_path / "runs" / "r1" / "results.json").write_text(
        json.dumps({"state": "finished", "test": {"loss": 0.4321}})
    )
    ledger = {"runs": {"r1": entry({"p": 0.1}, "finished", results_file="runs/r1/results.json")}}
    header, _, row = format_summary(tmp_path, ledger, "test/loss").splitlines()[:3]
    assert "test/loss" in header.split() and "%" not in header.split()
    assert "0.4321" in row.split()
