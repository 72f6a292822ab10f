"""The winners file: each method's tuned settings, read back into a run's config."""

import pytest
import yaml

from sslexp.config import TrainConfig
from sslexp.errors import InputError
from sslexp.tuning import apply_tuned, read_winners, tuning_fold, write_winners

WINNERS = {
    "chosen_by": "by hand",
    "methods": {
        "ssl": {"lr": 0.002, "augment": False, "weight_decay": 0.0},
        "scratch": {"lr": 0.006, "augment": True, "weight_decay": 0.05},
    },
}


def test_each_method_takes_its_own_winners_and_keeps_the_file(tmp_path):
    path = write_winners(tmp_path / "winners.yaml", WINNERS)
    assert path.read_text().startswith("# Downstream settings chosen per method")
    scratch = apply_tuned(TrainConfig(method="scratch", lr=0.1, tuned=str(path)))
    assert (scratch.lr, scratch.augment, scratch.weight_decay) == (0.006, True, 0.05)
    assert scratch.tuned == str(path)
    ssl = apply_tuned(TrainConfig(method="ssl", augment=True, tuned=str(path)))
    assert (ssl.lr, ssl.augment, ssl.weight_decay) == (0.002, False, 0.0)
    untuned = TrainConfig(lr=0.1)
    assert apply_tuned(untuned) is untuned


def test_a_missing_or_incomplete_winners_file_says_what_to_run(tmp_path):
    with pytest.raises(InputError, match="make tune"):
        apply_tuned(TrainConfig(tuned=str(tmp_path / "none.yaml")))
    (tmp_path / "partial.yaml").write_text(
        yaml.safe_dump({"methods": {"scratch": {"lr": 0.001, "augment": True}}})
    )
    with pytest.raises(InputError, match="missing: weight_decay"):
        read_winners(tmp_path / "partial.yaml")
    (tmp_path / "one.yaml").write_text(
        yaml.safe_dump({"methods": {"scratch": WINNERS["methods"]["scratch"]}})
    )
    with pytest.raises(InputError, match="no winner for method 'ssl'"):
        apply_tuned(TrainConfig(method="ssl", tuned=str(tmp_path / "one.yaml")))


def test_tuned_values_are_checked_like_options(tmp_path):
    (tmp_path / "bad.yaml").write_text(
        yaml.safe_dump({"methods": {"ssl": {"lr": -1, "augment": False, "weight_decay": 0}}})
    )
    with pytest.raises(InputError, match="lr"):
        apply_tuned(TrainConfig(tuned=str(tmp_path / "bad.yaml")))


def test_the_tuning_fold_is_the_last():
    assert tuning_fold(11) == 10
