"""A run tuned from a winners file trains with its method's values and records them."""

import json

import pytest
from click.testing import CliRunner

from sslexp.cli import main
from sslexp.tuning import write_winners

TINY = ["--dataset", "digits", "--image-size", "8", "--depth", "8", "--width", "4"]


@pytest.mark.slow
def test_scratch_trains_augmented_with_its_tuned_rate_and_decay(tmp_path, data_cache):
    winners = write_winners(
        tmp_path / "winners.yaml",
        {
            "chosen_by": "by hand",
            "methods": {"scratch": {"lr": 0.004, "augment": True, "weight_decay": 0.05}},
        },
    )
    result = CliRunner().invoke(
        main,
        [
            "train",
            *TINY,
            "--method",
            "scratch",
            "--budget",
            "matched",
            "--max-updates",
            "6",
            "--eval-every",
            "3",
            "--label-fraction",
            "0.1",
            "--lr",
            "0.1",
            "--tuned",
            str(winners),
            "--wandb-mode",
            "disabled",
            "--cache-dir",
            str(data_cache),
            "--output-dir",
            str(tmp_path / "run"),
        ],
    )
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "run" / "results.json").read_text())["config"]
    assert (config["lr"], config["augment"], config["weight_decay"]) == (0.004, True, 0.05)
    assert config["tuned"] == str(winners)
