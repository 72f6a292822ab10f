"""Choosing each arm's winners from the tuning sweeps: same budget, validation only."""

import itertools

import pytest
import yaml
from click.testing import CliRunner

from sslexp.report.collect import SweepRun
from sslexp.report.tuning import choose_winners
from sslexp.runs.record import Record

GRID = list(itertools.product([0.001, 0.003], [False, True], [0.0, 0.05]))


def tuning_run(
    method,
    lr,
    augment,
    weight_decay,
    fraction,
    val_accuracy,
    test_accuracy=0.5,
    fold=10,
    state="finished",
):
    config = {
        "method": method,
        "lr": lr,
        "augment": augment,
        "weight_decay": weight_decay,
        "label_fraction": fraction,
        "fold": fold,
        "folds": 11,
        "seed": 0,
    }
    record = Record(
        kind="train", state=state, best_val_accuracy=val_accuracy, test={"accuracy": test_accuracy}
    )
    return SweepRun(
        f"{method}-{lr}-{augment}-{weight_decay}-{fraction}", None, state, config, record
    )


def arm(method, best, test_favourite=None):
    """Every candidate at two fractions; ``best`` has the highest mean validation accuracy,
    ``test_favourite`` the highest test accuracy (which must not matter)."""
    runs = []
    for candidate in GRID:
        for fraction, bonus in ((0.001, 0.0), (0.005, 0.1)):
            val = 0.6 + bonus + (0.05 if candidate == best else 0.0)
            test = 0.9 if candidate == test_favourite else 0.5
            runs.append(tuning_run(method, *candidate, fraction, val, test))
    return runs


def test_each_arm_wins_by_validation_accuracy_never_by_test_accuracy():
    runs = arm("ssl", GRID[1], test_favourite=GRID[0]) + arm("scratch", GRID[6])
    winners = choose_winners(runs, ["a", "b"])
    assert winners["methods"]["ssl"] == {
        "lr": 0.001,
        "augment": False,
        "weight_decay": 0.05,
        "val_accuracy": pytest.approx(0.7),
        "runs": 2,
    }
    assert winners["methods"]["scratch"]["lr"] == 0.003
    assert winners["methods"]["scratch"]["augment"] is True
    assert winners["runs_per_method"] == {"scratch": 16, "ssl": 16}
    assert winners["grid"] == {
        "lr": [0.001, 0.003],
        "augment": [False, True],
        "weight_decay": [0.0, 0.05],
    }
    assert winners["fold"] == 10 and "test accuracy not used" in winners["chosen_by"]
    assert len(winners["candidates"]["ssl"]) == 8


def test_arms_tuned_with_different_budgets_are_refused():
    runs = arm("ssl", GRID[1]) + arm("scratch", GRID[1])[:-2]  # scratch lost one candidate
    with pytest.raises(ValueError, match="different grids"):
        choose_winners(runs, [])


def test_tuning_one_arm_only_is_refused():
    with pytest.raises(ValueError, match="no finished tuning runs of scratch: tune every arm"):
        choose_winners(arm("ssl", GRID[1]), [])


def test_tuning_on_an_evaluation_fold_or_with_unfinished_runs_is_refused():
    runs = arm("ssl", GRID[1]) + [tuning_run("ssl", 0.001, False, 0.0, 0.001, 0.6, fold=3)]
    with pytest.raises(ValueError, match="not the tuning fold 10"):
        choose_winners(runs, [])
    running = arm("ssl", GRID[1]) + [
        tuning_run("ssl", 0.1, False, 0.0, 0.001, None, state="running")
    ]
    with pytest.raises(ValueError, match="have not finished"):
        choose_winners(running, [])


def test_tune_winners_writes_the_file_a_study_names(tmp_path, monkeypatch):
    from sslexp.cli import main
    from sslexp.report import tuning

    monkeypatch.setattr(
        tuning,
        "collect_sweep",
        lambda directory: type("Sweep", (), {"runs": arm(directory.name, GRID[3])})(),
    )
    (tmp_path / "ssl").mkdir()
    (tmp_path / "scratch").mkdir()
    out = tmp_path / "tuned" / "winners.yaml"
    result = CliRunner().invoke(
        main,
        [
            "sweep",
            "tune-winners",
            str(tmp_path / "ssl"),
            str(tmp_path / "scratch"),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "ssl: lr=0.001, augment=True, weight_decay=0.05" in result.output
    written = yaml.safe_load(out.read_text())
    assert set(written["methods"]) == {"ssl", "scratch"}
    assert written["sweeps"] == [str(tmp_path / "ssl"), str(tmp_path / "scratch")]
