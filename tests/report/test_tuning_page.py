"""The tuning page: winners and their margins, every candidate and run, no test accuracy."""

import itertools
from pathlib import Path

import yaml
from click.testing import CliRunner

from sslexp.report import tuning_page
from sslexp.report.collect import SweepRun
from sslexp.report.tuning import choose_winners
from sslexp.runs.record import Record

GRID = list(itertools.product([0.001, 0.003], [False, True], [0.0, 0.05]))
FRACTIONS = (0.001, 0.005)


def arm(method, best, test_favourite):
    """Every candidate at two fractions: ``best`` leads validation by 5 points at 0.001 and
    3 at 0.005; ``test_favourite`` has a test accuracy no candidate table may show."""
    runs = []
    for (lr, augment, weight_decay), fraction in itertools.product(GRID, FRACTIONS):
        candidate = (lr, augment, weight_decay)
        lead = {0.001: 0.05, 0.005: 0.03}[fraction] if candidate == best else 0.0
        config = {
            "method": method,
            "lr": lr,
            "augment": augment,
            "weight_decay": weight_decay,
            "label_fraction": fraction,
            "fold": 10,
            "folds": 11,
            "seed": 0,
            "max_updates": 5000,
        }
        record = Record(
            kind="train",
            state="finished",
            best_val_accuracy=0.6 + lead,
            test={"accuracy": 0.987 if candidate == test_favourite else 0.5},
            training={"updates": 600, "best_update": 100},
        )
        runs.append(
            SweepRun(
                f"{method}-{lr}-{augment}-{weight_decay}-{fraction}",
                None,
                "finished",
                config,
                record,
            )
        )
    return runs


def fake_sweeps(monkeypatch, runs_by_dir):
    class Sweep:
        def __init__(self, directory):
            self.directory = Path(directory)
            self.name = f"tuning_{self.directory.name}"
            self.runs = runs_by_dir[self.directory.name]

    monkeypatch.setattr(tuning_page, "collect_sweep", Sweep)
    monkeypatch.setattr(tuning_page, "find_pretrains", lambda sweep: [])


def test_each_candidate_shows_its_validation_accuracy_per_fraction_and_never_test():
    runs = arm("ssl", GRID[5], test_favourite=GRID[0]) + arm("scratch", GRID[2], GRID[0])
    winners = choose_winners(runs, ["a", "b"])
    rows = tuning_page.candidate_rows(runs, winners, "ssl")
    assert rows[0] == {
        "rank": "1",
        "lr": "0.003",
        "augment": "False",
        "weight decay": "0.05",
        "val acc % at 0.001": "65.00",
        "val acc % at 0.005": "63.00",
        "mean val acc %": "64.00",
    }
    assert len(rows) == len(GRID)
    assert not any("98.70" in value for row in rows for value in row.values())


def test_the_margin_names_the_runner_up():
    runs = arm("ssl", GRID[5], GRID[0]) + arm("scratch", GRID[2], GRID[0])
    winners = choose_winners(runs, ["a", "b"])
    sentence = tuning_page.margin_sentence(winners, "scratch")
    assert sentence.startswith("scratch: lr 0.001, augment True, weight decay 0;")
    assert "4.00 points ahead of the runner-up (lr 0.001, augment False" in sentence


def test_tune_winners_page_option_writes_the_page(tmp_path, monkeypatch):
    from sslexp.cli import main
    from sslexp.report import tuning

    runs = {"ssl": arm("ssl", GRID[5], GRID[0]), "scratch": arm("scratch", GRID[2], GRID[0])}
    monkeypatch.setattr(
        tuning,
        "collect_sweep",
        lambda directory: type("Sweep", (), {"runs": runs[directory.name]})(),
    )
    fake_sweeps(monkeypatch, runs)
    for name in runs:
        (tmp_path / name).mkdir()
    page = tmp_path / "docs" / "tuning.md"
    result = CliRunner().invoke(
        main,
        [
            "sweep",
            "tune-winners",
            str(tmp_path / "ssl"),
            str(tmp_path / "scratch"),
            "--out",
            str(tmp_path / "winners.yaml"),
            "--page",
            str(page),
            "--page-command",
            "make tune",
        ],
    )
    assert result.exit_code == 0, result.output
    text = page.read_text()
    assert "```bash\nmake tune\n```" in text
    assert "## Candidates: ssl" in text and "## Candidates: scratch" in text
    assert "0 of 32 runs reached their update cap" in text
    assert "- lr: 0.001, 0.003" in text
    assert "test accuracy not used" in text and "98.70" not in text
    assert yaml.safe_load((tmp_path / "winners.yaml").read_text())["methods"]["ssl"]["lr"] == 0.003
