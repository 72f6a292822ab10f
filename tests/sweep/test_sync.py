"""Finding a local sweep's offline W&B runs."""

from __future__ import annotations

import json

import pytest

from sslexp.sweep.ledger import Ledger, new_entry
from sslexp.sweep.sync import find_offline_runs, sync_command


def make_sweep_dir(tmp_path, states: dict[str, str], without_wandb: tuple[str, ...] = ()):
    ledger = Ledger(tmp_path)
    ledger.initialise("demo")
    with ledger.transaction() as data:
        for run_id, state in states.items():
            data["runs"][run_id] = {**new_entry({"a": 1}, name=run_id), "state": state,
                                    "run_dir": f"runs/{run_id}", "wandb_dir": f"runs/{run_id}"}
            if run_id not in without_wandb:
                (tmp_path / "runs" / run_id / "wandb" / f"offline-run-20250101_000000-{run_id}").mkdir(parents=True)
    return tmp_path


def test_finished_runs_with_offline_data_are_found(tmp_path):
    sweep_dir = make_sweep_dir(tmp_path, {"aaa": "finished", "bbb": "failed", "ccc": "finished"},
                               without_wandb=("ccc",))
    runs, without_data = find_offline_runs(sweep_dir)
    assert [(run.run_id, run.group, run.offline_dir.name) for run in runs] == [
        ("aaa", "demo", "offline-run-20250101_000000-aaa")]
    assert without_data == ["ccc"]

    runs, _ = find_offline_runs(sweep_dir, include_unfinished=True)
    assert [run.run_id for run in runs] == ["aaa", "bbb"]


def test_sync_command_targets_the_offline_run_directory(tmp_path):
    runs, _ = find_offline_runs(make_sweep_dir(tmp_path, {"aaa": "finished"}))
    assert sync_command(runs[0], "wandb", "proj", None) == ["wandb", "sync", "--project", "proj",
                                                             str(runs[0].offline_dir)]


def test_a_directory_without_ledger_is_refused(tmp_path):
    with pytest.raises(ValueError, match="sslexp sweep local"):
        find_offline_runs(tmp_path)


def test_the_group_a_run_recorded_wins_over_the_sweep_name(tmp_path):
    sweep_dir = make_sweep_dir(tmp_path, {"aaa": "finished"})
    (sweep_dir / "runs" / "aaa" / "results.json").write_text(
        json.dumps({"kind": "train", "state": "finished", "wandb": {"group": "from-run"}}))
    runs, _ = find_offline_runs(sweep_dir)
    assert runs[0].group == "from-run"


def test_the_pretrainings_of_the_backbones_used_are_found_once_each(tmp_path):
    from sslexp.sweep.sync import find_backbone_runs

    sweep_dir = make_sweep_dir(tmp_path / "sweep", {"aaa": "finished", "bbb": "finished",
                                                    "ccc": "finished"})
    logged, unlogged = tmp_path / "backbones" / "k1", tmp_path / "backbones" / "k2"
    (logged / "wandb" / "offline-run-20250101_000000-p1").mkdir(parents=True)
    unlogged.mkdir(parents=True)
    (logged / "results.json").write_text(json.dumps(
        {"kind": "pretrain", "state": "finished", "wandb": {"group": "demo"}}))
    for run_id, backbone in (("aaa", logged), ("bbb", logged), ("ccc", unlogged)):
        (sweep_dir / "runs" / run_id / "results.json").write_text(json.dumps(
            {"kind": "train", "state": "finished",
             "model": {"pretrained": {"path": str(backbone / "backbone.keras")}}}))
    runs, without_data = find_backbone_runs(sweep_dir)
    assert [(run.run_id, run.group, run.state, run.offline_dir.name) for run in runs] == [
        ("pretrain k1", "demo", "finished", "offline-run-20250101_000000-p1")]
    assert without_data == [str(unlogged)]
