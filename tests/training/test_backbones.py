"""Per-fold backbones: one pretraining per fold, each found by its fold's ssl runs."""

import json

import yaml
from click.testing import CliRunner

from sslexp.cli import main

TINY = {"dataset": "digits", "image_size": 8, "depth": 8, "width": 4}


def test_per_fold_backbones_are_each_pretrained_once_and_found_by_their_ssl_runs(
        tmp_path, data_cache):
    from sslexp.sweep.spec import load_sweep, planned_backbones

    sweep = tmp_path / "per_fold.yaml"
    sweep.write_text(yaml.safe_dump({
        "name": "per_fold", "method": "grid",
        "metric": {"name": "test/accuracy", "goal": "maximize"},
        "parameters": {**{name: {"value": value} for name, value in TINY.items()},
                       "method": {"values": ["ssl", "scratch"]}, "fold": {"values": [0, 1]},
                       "label_fraction": {"values": [0.1, 0.2]},
                       "pretext_seeds": {"value": "per-fold"}, "pretext_epochs": {"value": 1},
                       "pretext_unlabeled_fraction": {"value": 0.1},
                       "pretrained": {"value": "auto"}},
        "command": ["${env}", "${interpreter}", "-m", "sslexp", "train", "${args}"]}))
    planned = planned_backbones(load_sweep(sweep))
    assert len(planned) == 2 and planned[0].pretext.seed != planned[1].pretext.seed
    cache = tmp_path / "backbones"
    common = [f"--cache-dir={data_cache}", f"--backbone-cache={cache}", "--wandb-mode=disabled"]
    runner = CliRunner()
    result = runner.invoke(main, ["sweep", "pretrain", str(sweep), *common])
    assert result.exit_code == 0, result.output
    assert result.output.count("(pretrained)") == 2
    records = {path.parent: json.loads(path.read_text()) for path in cache.glob("*/results.json")}
    assert len(records) == 2
    found = set()
    for fold in (0, 1):
        options = [f"--{name.replace('_', '-')}={value}" for name, value in TINY.items()]
        result = runner.invoke(main, [
            "train", *options, "--method=ssl", f"--fold={fold}", "--label-fraction=0.1",
            "--pretext-seeds=per-fold", "--pretext-epochs=1",
            "--pretext-unlabeled-fraction=0.1", "--budget=matched",
            "--max-updates=5", f"--output-dir={tmp_path / f'ssl-{fold}'}", *common])
        assert result.exit_code == 0, result.output
        run = json.loads((tmp_path / f"ssl-{fold}" / "results.json").read_text())
        found.add(run["model"]["pretrained"]["pretext"]["key"])
    assert found == {record["key"] for record in records.values()}
    again = {path.parent: json.loads(path.read_text()) for path in cache.glob("*/results.json")}
    assert again == records  # found, not pretrained again
