"""The backbone cache: one lock for every writer, and a broken cached backbone pretrained again."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from sslexp.cli import main
from sslexp.config import PretrainConfig, TrainConfig, build
from sslexp.runs.record import BACKBONE_FILE, Record
from sslexp.training.backbones import backbone_dir

TINY_VALUES = {"dataset": "digits", "image_size": 8, "depth": 8, "width": 4, "pretext_epochs": 1}
TINY_PRETRAIN = ["--dataset", "digits", "--image-size", "8", "--depth", "8", "--width", "4",
                 "--epochs", "1"]


def held_elsewhere(lock_path: Path) -> bool:
    """True when another process cannot take ``lock_path`` right now."""
    probe = ("import sys; from filelock import FileLock, Timeout\n"
             "try:\n    FileLock(sys.argv[1]).acquire(timeout=0)\n"
             "except Timeout:\n    sys.exit(7)\n")
    return subprocess.run([sys.executable, "-c", probe, str(lock_path)]).returncode == 7


def test_pretrain_into_the_cache_holds_the_lock_automatic_pretraining_takes(tmp_path,
                                                                          monkeypatch):
    config = build(PretrainConfig, {**TINY_VALUES, "epochs": 1}, {"pretext": ""})
    directory = backbone_dir(tmp_path / "cache", config)
    seen = {}

    def pretraining(config, output_dir, *args, **kwargs):
        seen["locked"] = held_elsewhere(Path(f"{output_dir}.lock"))
        return Record(kind="pretrain", state="finished", best_val_accuracy=0.5, best_epoch=1)

    for module in ("sslexp.training.pretrain", "sslexp.training.backbones"):
        monkeypatch.setattr(f"{module}.run_pretraining", pretraining)
    result = CliRunner().invoke(main, ["pretrain", *TINY_PRETRAIN, "--backbone-cache",
                                       str(tmp_path / "cache"), "--wandb-mode", "disabled"])
    assert result.exit_code == 0, result.output
    assert seen == {"locked": True}, f"{directory} was pretrained without the cache lock"


def test_a_truncated_cached_backbone_is_set_aside_and_pretrained_again(tmp_path, data_cache,
                                                                      pretrained_dir):
    cache = tmp_path / "cache"
    config = build(TrainConfig, TINY_VALUES).pretrain_config()
    directory = backbone_dir(cache, config)
    shutil.copytree(pretrained_dir, directory)
    assert json.loads((directory / "results.json").read_text())["key"] == config.key()
    backbone = directory / BACKBONE_FILE
    backbone.write_bytes(backbone.read_bytes()[:200])

    result = CliRunner().invoke(main, [
        "train", "--dataset", "digits", "--image-size", "8", "--depth", "8", "--width", "4",
        "--pretext-epochs", "1", "--method", "ssl", "--epochs", "1", "--label-fraction", "0.1",
        "--backbone-cache", str(cache), "--cache-dir", str(data_cache),
        "--output-dir", str(tmp_path / "run"), "--wandb-mode", "disabled"])
    assert result.exit_code == 0, result.output + result.stderr
    warnings = [line for line in result.stderr.splitlines() if "unreadable" in line]
    assert len(warnings) == 1 and str(directory) in warnings[0]
    assert "pretraining it again" in warnings[0]
    aside = [path for path in cache.iterdir() if path.name.startswith(directory.name + ".broken")]
    assert len(aside) == 1 and (aside[0] / BACKBONE_FILE).stat().st_size == 200
    assert json.loads((directory / "results.json").read_text())["state"] == "finished"
    record = json.loads((tmp_path / "run" / "results.json").read_text())
    assert record["model"]["pretrained"]["path"] == str(backbone.resolve())
