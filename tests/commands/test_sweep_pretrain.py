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
        "fold": {"value": 0}, "budget": {"value": "matched"}, "max_updates": {"value": 2},
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


def test_online_a_backbone_cached_without_wandb_is_logged_once(tmp_path, data_cache,
                                                               pretrained_dir, monkeypatch):
    import shutil

    from sslexp.config import PretrainConfig, build
    from sslexp.training.backbones import backbone_dir
    from tests.wandb_standins.server import fake_wandb

    sweep = {**TINY_SWEEP, "parameters": {**TINY_SWEEP["parameters"],
                                          "pretext_unlabeled_fraction": {"value": 1.0},
                                          "pretext_batch_size": {"value": 64}}}
    sweep_file = tmp_path / "tiny.yaml"
    sweep_file.write_text(yaml.safe_dump(sweep))
    config = build(PretrainConfig, {"dataset": "digits", "image_size": 8, "depth": 8, "width": 4,
                                    "epochs": 1}, {"pretext": ""})
    directory = backbone_dir(tmp_path / "backbones", config)
    shutil.copytree(pretrained_dir, directory)  # pretrained with W&B disabled
    command = ["sweep", "pretrain", str(sweep_file), f"--backbone-cache={tmp_path / 'backbones'}",
               f"--cache-dir={data_cache}", "--wandb-mode=online", "--entity=team"]
    with fake_wandb(monkeypatch, tmp_path) as backend:
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 0, result.output
        reference = f"team/sslexp/backbone-{config.key()}:v0"
        assert f"(cached; W&B artifact {reference})" in result.output
        (run,) = backend.runs.values()
        assert run["jobType"] == "pretrain" and run["groupName"] == "tiny"
        assert run["displayName"] == read_record(directory).name
        (artifact,) = backend.artifacts.values()
        assert sorted(artifact["files"]) == ["backbone.keras", "results.json"]
        assert read_record(directory).artifact == reference
        again = CliRunner().invoke(main, command)
        assert again.exit_code == 0 and f"(cached; W&B artifact {reference})" in again.output
        assert len(backend.runs) == 1 and len(backend.artifacts) == 1
        backend.assert_clean()


@pytest.mark.slow
def test_online_the_sweeps_path_sends_the_backbones_to_its_entity_project_and_group(
        tmp_path, data_cache, pretrained_dir, monkeypatch):
    import shutil

    from sslexp.config import PretrainConfig, build
    from sslexp.training.backbones import backbone_dir
    from tests.wandb_standins.server import fake_wandb

    sweep = {**TINY_SWEEP, "parameters": {**TINY_SWEEP["parameters"],
                                          "pretext_unlabeled_fraction": {"value": 1.0},
                                          "pretext_batch_size": {"value": 64}}}
    sweep_file = tmp_path / "tiny.yaml"
    sweep_file.write_text(yaml.safe_dump(sweep))
    config = build(PretrainConfig, {"dataset": "digits", "image_size": 8, "depth": 8, "width": 4,
                                    "epochs": 1}, {"pretext": ""})
    shutil.copytree(pretrained_dir, backbone_dir(tmp_path / "backbones", config))
    with fake_wandb(monkeypatch, tmp_path) as backend:
        result = CliRunner().invoke(main, [
            "sweep", "pretrain", str(sweep_file), f"--backbone-cache={tmp_path / 'backbones'}",
            f"--cache-dir={data_cache}", "--wandb-mode=online",
            "--sweep=acme-team/rotnet-study/swp1"])
        assert result.exit_code == 0, result.output
        assert f"W&B artifact acme-team/rotnet-study/backbone-{config.key()}:v0" in result.output
        (run,) = backend.runs.values()
        assert (run["entity"], run["project"], run["groupName"]) == (
            "acme-team", "rotnet-study", "swp1")
        backend.assert_clean()
