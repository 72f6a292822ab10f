"""The tuning sweeps: one per arm, the same grid, on the fold no evaluation uses."""

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from sslexp.tuning import TUNED_FIELDS, tuning_fold

SWEEPS_DIR = Path(__file__).resolve().parents[2] / "sweeps"
ROOT = SWEEPS_DIR.parent


def parameters(name: str) -> dict:
    return yaml.safe_load((SWEEPS_DIR / name).read_text())["parameters"]


def test_both_arms_are_tuned_on_the_same_grid_with_the_studys_other_settings():
    ssl, scratch = parameters("tuning_ssl.yaml"), parameters("tuning_scratch.yaml")
    study = parameters("fashion_mnist.yaml")
    assert ssl["method"] == {"values": ["ssl"]} and scratch["method"] == {"values": ["scratch"]}
    differs = {"method"}
    assert {k: v for k, v in ssl.items() if k not in differs} == {
        k: v for k, v in scratch.items() if k not in differs
    }
    for name in TUNED_FIELDS:
        assert len(ssl[name]["values"]) >= 2, f"{name} is not tuned"
    assert 0.002 in ssl["lr"]["values"]  # the untuned protocol's rate is a candidate
    tuning_only = {"method", "fold", "label_fraction", "tuned", *TUNED_FIELDS}
    assert {k: v for k, v in ssl.items() if k not in tuning_only} == {
        k: v for k, v in study.items() if k not in tuning_only
    }
    assert set(ssl["label_fraction"]["values"]) <= set(study["label_fraction"]["values"])


def test_tuning_uses_the_reserved_fold_and_the_study_never_does():
    folds = parameters("fashion_mnist.yaml")["folds"]["value"]
    assert parameters("tuning_ssl.yaml")["fold"] == {"value": tuning_fold(folds)}
    for name in ("fashion_mnist.yaml", "unlabeled_volume.yaml", "unlabeled_volume_epochs.yaml"):
        evaluated = parameters(name)["fold"]["values"]
        assert tuning_fold(folds) not in evaluated and max(evaluated) < folds


def test_the_study_names_the_winners_file_make_tune_writes():
    tuned = parameters("fashion_mnist.yaml")["tuned"]["value"]
    assert parameters("unlabeled_volume.yaml")["tuned"]["value"] == tuned
    assert parameters("unlabeled_volume_epochs.yaml")["tuned"]["value"] == tuned
    assert "lr" not in parameters("fashion_mnist.yaml")  # the winners set it per arm
    assert f"TUNED ?= {tuned}" in (ROOT / "Makefile").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tuning_ssl.yaml", "tuning_scratch.yaml"])
def test_sweep_plan_lists_a_tuning_sweep(name, data_cache, monkeypatch, tmp_path):
    from sslexp.cli import main

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        main,
        [
            "sweep",
            "plan",
            str(SWEEPS_DIR / name),
            "--probe",
            "false",
            "--cache-dir",
            str(data_cache),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "32 runs over label_fraction x method x lr x augment x weight_decay" in result.output
