"""`sslexp sweep pretrain` (what `make pretrain SWEEP=...` runs) fills the backbone cache with
exactly the backbones the sweep's ssl runs then use, without pretraining again."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner

from sslexp.cli import main
from sslexp.runs.record import read_record
from sslexp.sweep.spec import grid_points, load_sweep

TINY_SWEEP = {
    "name": "tiny", "method": "grid", "metric": {"name": "test/accuracy", "goal": "maximize"},
    "parameters": {
        "dataset": {"value": "digits"}, "image_size": {"value": 8}, "depth": {"value": 8},
        "width": {"value": 4}, "pretrained": {"value": "auto"}, "pretext_epochs": {"value": 1},
        "pretext_batch_size": {"value": 128},
        "pretext_unlabeled_fraction": {"values": [0.5, 1.0]},  # two backbones
        "method": {"values": ["ssl", "scratch"]}, "label_fraction": {"value": 0.1},
        "fold": {"value": 0}, "epochs": {"value": 1},
    },
    "command": ["${env}", "${interpreter}", "-m", "sslexp", "train", "${args}"],
}


def test_the_cache_holds_exactly_the_backbones_the_ssl_runs_use(tmp_path, data_cache,
                                                                monkeypatch):
    sweep_file = tmp_path / "tiny.yaml"
    sweep_file.write_text(yaml.safe_dump(TINY_SWEEP))
    cache = tmp_path / "backbones"
    caches = [f"--backbone-cache={cache}", f"--cache-dir={data_cache}", "--wandb-mode=disabled"]
    result = CliRunner().invoke(main, ["sweep", "pretrain", str(sweep_file), *caches])
    assert result.exit_code == 0, result.output
    pretrained = sorted(path for path in cache.iterdir() if path.is_dir())
    assert len(pretrained) == 2 and result.output.count("(ready)") == 2
    assert all(read_record(path).is_finished for path in pretrained)

    from sslexp.training import backbones

    monkeypatch.setattr(backbones, "run_pretraining",
                        lambda *a, **k: pytest.fail("an ssl run pretrained its backbone again"))
    used = set()
    ssl_points = [point for point in grid_points(load_sweep(sweep_file))
                  if point["method"] == "ssl"]
    for index, point in enumerate(ssl_points):
        run_dir = tmp_path / "runs" / str(index)
        result = CliRunner().invoke(main, ["train", *(f"--{k}={v}" for k, v in point.items()),
                                           *caches, f"--output-dir={run_dir}"])
        assert result.exit_code == 0, result.output
        used.add(read_record(run_dir).pretrained_backbone.parent)
    assert used == {path.resolve() for path in pretrained}
    again = CliRunner().invoke(main, ["sweep", "pretrain", str(sweep_file), *caches])
    assert again.output.count("(cached)") == 2 and "(ready)" not in again.output
