"""``--budget matched --select last`` end to end: train through the CLI, then report."""

import json

import pytest
from click.testing import CliRunner

from sslexp.cli import main

TINY = ["--dataset", "digits", "--image-size", "8", "--depth", "8", "--width", "4"]


@pytest.mark.slow
def test_a_run_without_validation_trains_records_and_reports(tmp_path, data_cache, pretrained_dir):
    sweep = tmp_path / "sweep"
    for method in ("ssl", "scratch"):
        result = CliRunner().invoke(
            main,
            [
                "train",
                *TINY,
                "--budget",
                "matched",
                "--select",
                "last",
                "--max-updates",
                "12",
                "--eval-every",
                "5",
                "--label-fraction",
                "0.05",
                "--method",
                method,
                "--pretrained",
                str(pretrained_dir / "backbone.keras"),
                "--wandb-mode",
                "disabled",
                "--cache-dir",
                str(data_cache),
                "--output-dir",
                str(sweep / "runs" / method),
            ],
        )
        assert result.exit_code == 0, result.output
        record = json.loads((sweep / "runs" / method / "results.json").read_text())
        assert record["state"] == "finished" and record["split"]["n_val"] == 0
        # Keras writes NA in the validation columns it never filled; they are left out
        assert [set(row) for row in record["history"]] == [{"epoch", "loss", "accuracy"}] * 3
        training = record["training"]
        assert (training["updates"], training["best_update"]) == (12, 12)
        assert training["updates_after_best"] == 0 and training["cap_hit"] is None
    result = CliRunner().invoke(main, ["report", str(sweep), "--out", str(tmp_path / "report")])
    assert result.exit_code == 0, result.output
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "had no validation split (select: last)" in markdown
    assert "| 0.05 |" in markdown
