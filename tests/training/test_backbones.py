"""The backbone cache: one lock for every writer, a broken cached backbone pretrained again,
and per-fold backbones each pretrained once and found by their fold's ssl runs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from sslexp.cli import main
from sslexp.config import PretrainConfig, TrainConfig, build
from sslexp.runs.record import BACKBONE_FILE, Record
from sslexp.training.backbones import backbone_dir

TINY_VALUES = {"dataset": "digits", "image_size": 8, "depth": 8, "width": 4, "pretext_epochs": 1}
TINY_PRETRAIN = [
    "--dataset",
    "digits",
    "--image-size",
    "8",
    "--depth",
    "8",
    "--width",
    "4",
    "--epochs",
    "1",
]


def held_elsewhere(lock_path: Path) -> bool:
    """True when another process cannot take ``lock_path`` right now."""
    probe = (
        "import sys; from filelock import FileLock, Timeout\n"
        "try:\n    FileLock(sys.argv[1]).acquire(timeout=0)\n"
        "except Timeout:\n    sys.exit(7)\n"
    )
    return subprocess.run([sys.executable, "-c", probe, str(lock_path)]).returncode == 7


def test_pretrain_into_the_cache_holds_the_lock_automatic_pretraining_takes(tmp_path, monkeypatch):
    config = build(PretrainConfig, {**TINY_VALUES, "epochs": 1}, {"pretext": ""})
    directory = backbone_dir(tmp_path / "cache", config)
    seen = {}

    def pretraining(config, output_dir, *args, **kwargs):
        seen["locked"] = held_elsewhere(Path(f"{output_dir}.lock"))
        return Record(kind="pretrain", state="finished", best_val_accuracy=0.5, best_epoch=1)

    for module in ("sslexp.training.pretrain", "sslexp.training.backbones"):
        monkeypatch.setattr(f"{module}.run_pretraining", pretraining)
    result = CliRunner().invoke(
        main,
        [
            "pretrain",
            *TINY_PRETRAIN,
            "--backbone-cache",
            str(tmp_path / "cache"),
            "--wandb-mode",
            "disabled",
        ],
    )
    assert result.exit_code == 0, result.output
    assert seen == {"locked": True}, f"{directory} was pretrained without the cache lock"


@pytest.mark.slow
def test_a_truncated_cached_backbone_is_set_aside_and_pretrained_again(
    tmp_path, data_cache, pretrained_dir
):
    cache = tmp_path / "cache"
    config = build(TrainConfig, TINY_VALUES).pretrain_config()
    directory = backbone_dir(cache, config)
    shutil.copytree(pretrained_dir, directory)
    assert json.loads((directory / "results.json").read_text())["key"] == config.key()
    backbone = directory / BACKBONE_FILE
    backbone.write_bytes(backbone.read_bytes()[:200])

    result = CliRunner().invoke(
        main,
        [
            "train",
            "--dataset",
            "digits",
            "--image-size",
            "8",
            "--depth",
            "8",
            "--width",
            "4",
            "--pretext-epochs",
            "1",
            "--method",
            "ssl",
            "--budget",
            "matched",
            "--max-updates",
            "2",
            "--label-fraction",
            "0.1",
            "--backbone-cache",
            str(cache),
            "--cache-dir",
            str(data_cache),
            "--output-dir",
            str(tmp_path / "run"),
            "--wandb-mode",
            "disabled",
        ],
    )
    assert result.exit_code == 0, result.output + result.stderr
    warnings = [line for line in result.stderr.splitlines() if "unreadable" in line]
    assert len(warnings) == 1 and str(directory) in warnings[0]
    assert "pretraining it again" in warnings[0]
    aside = [path for path in cache.iterdir() if path.name.startswith(directory.name + ".broken")]
    assert len(aside) == 1 and (aside[0] / BACKBONE_FILE).stat().st_size == 200
    assert json.loads((directory / "results.json").read_text())["state"] == "finished"
    record = json.loads((tmp_path / "run" / "results.json").read_text())
    assert record["model"]["pretrained"]["path"] == str(backbone.resolve())


TINY_SWEEP = {"dataset": "digits", "image_size": 8, "depth": 8, "width": 4}


@pytest.mark.slow
def test_per_fold_backbones_are_each_pretrained_once_and_found_by_their_ssl_runs(
    tmp_path, data_cache
):
    from sslexp.sweep.spec import load_sweep, planned_backbones

    sweep = tmp_path / "per_fold.yaml"
    sweep.write_text(
        yaml.safe_dump(
            {
                "name": "per_fold",
                "method": "grid",
                "metric": {"name": "test/accuracy", "goal": "maximize"},
                "parameters": {
                    **{name: {"value": value} for name, value in TINY_SWEEP.items()},
                    "method": {"values": ["ssl", "scratch"]},
                    "fold": {"values": [0, 1]},
                    "label_fraction": {"values": [0.1, 0.2]},
                    "pretext_seeds": {"value": "per-fold"},
                    "pretext_epochs": {"value": 1},
                    "pretext_unlabeled_fraction": {"value": 0.1},
                    "pretrained": {"value": "auto"},
                },
                "command": ["${env}", "${interpreter}", "-m", "sslexp", "train", "${args}"],
            }
        )
    )
    planned = planned_backbones(load_sweep(sweep))
    assert len(planned) == 2 and planned[0].pretext.seed != planned[1].pretext.seed
    cache = tmp_path / "backbones"
    common = [f"--cache-dir={data_cache}", f"--backbone-cache={cache}", "--wandb-mode=disabled"]
    runner = CliRunner()
    result = runner.invoke(main, ["sweep", "pretrain", str(sweep), *common])
    assert result.exit_code == 0, result.output
    assert result.output.count("(ready)") == 2
    records = {path.parent: json.loads(path.read_text()) for path in cache.glob("*/results.json")}
    assert len(records) == 2
    found = set()
    for fold in (0, 1):
        options = [f"--{name.replace('_', '-')}={value}" for name, value in TINY_SWEEP.items()]
        result = runner.invoke(
            main,
            [
                "train",
                *options,
                "--method=ssl",
                f"--fold={fold}",
                "--label-fraction=0.1",
                "--pretext-seeds=per-fold",
                "--pretext-epochs=1",
                "--pretext-unlabeled-fraction=0.1",
                "--budget=matched",
                "--max-updates=5",
                f"--output-dir={tmp_path / f'ssl-{fold}'}",
                *common,
            ],
        )
        assert result.exit_code == 0, result.output
        run = json.loads((tmp_path / f"ssl-{fold}" / "results.json").read_text())
        found.add(run["model"]["pretrained"]["pretext"]["key"])
    assert found == {record["key"] for record in records.values()}
    again = {path.parent: json.loads(path.read_text()) for path in cache.glob("*/results.json")}
    assert again == records  # found, not pretrained again
