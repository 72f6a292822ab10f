"""The W&B source gives the records a sweep directory gives, from a stand-in public API."""

from __future__ import annotations

import pytest

from sslexp.report.collect import collect_sweep, find_pretrains
from sslexp.report.comparison import compare
from sslexp.report.wandb_source import collect_wandb
from tests.report import sweep_factory, wandb_factory


def summarise(sweep):
    return sorted(
        (
            run.run_id,
            run.state,
            run.label_fraction,
            run.method,
            run.fold,
            run.test_accuracy,
            run.n_labels,
        )
        for run in sweep.runs
    )


@pytest.mark.slow
def test_a_sweeps_runs_on_wandb_are_the_records_of_its_directory(sweep_dir, tmp_path):
    api = wandb_factory.api_from_sweep(sweep_dir)
    from_wandb = collect_wandb(
        api,
        "team",
        "sslexp",
        sweep_id=wandb_factory.SWEEP_ID,
        download_dir=tmp_path / "files",
        pictures=False,
    )
    local = collect_sweep(sweep_dir)
    assert summarise(from_wandb) == summarise(local)
    assert from_wandb.state_counts() == local.state_counts()  # missing grid point included
    assert from_wandb.name == "demo" and "sweep abc123" in from_wandb.source
    assert compare(from_wandb.runs) == compare(local.runs)
    (failed,) = from_wandb.runs_in_state("failed")
    assert sweep_factory.FAILURE_MESSAGE in failed.error
    filters = [call[2] for call in api.calls if call[0] == "runs"]
    assert filters[0] == {"$and": [{"sweep": "abc123"}, {"jobType": "train"}]}


def test_the_pretraining_is_found_by_its_backbone_key(sweep_dir, tmp_path):
    api = wandb_factory.api_from_sweep(sweep_dir)
    sweep = collect_wandb(
        api,
        "team",
        "sslexp",
        sweep_id=wandb_factory.SWEEP_ID,
        download_dir=tmp_path,
        pictures=False,
    )
    (pretrain,) = find_pretrains(sweep)
    assert pretrain.record.key == wandb_factory.BACKBONE and len(pretrain.history) == 4
    assert len(pretrain.run_ids) == 8


@pytest.mark.slow
def test_runs_without_a_results_file_are_read_from_their_summary(sweep_dir, tmp_path):
    api = wandb_factory.api_from_sweep(sweep_dir, with_results=False)
    sweep = collect_wandb(
        api,
        "team",
        "sslexp",
        sweep_id=wandb_factory.SWEEP_ID,
        download_dir=tmp_path,
        pictures=False,
    )
    rows = compare(sweep.runs).rows
    local_rows = compare(collect_sweep(sweep_dir).runs).rows
    assert [row.accuracy["ssl"].mean for row in rows] == [
        row.accuracy["ssl"].mean for row in local_rows
    ]
    assert any("no results.json on W&B" in note for note in sweep.notes)


def test_a_group_is_selected_by_its_name_and_an_empty_one_is_an_error(sweep_dir, tmp_path):
    api = wandb_factory.api_from_sweep(sweep_dir)
    sweep = collect_wandb(
        api, "team", "sslexp", group=wandb_factory.SWEEP_ID, download_dir=tmp_path, pictures=False
    )
    assert sweep.grid is None and sweep.state_counts()["finished"] == 16
    with pytest.raises(ValueError, match="holds no `train` runs"):
        collect_wandb(api, "team", "sslexp", group="nothing-here", download_dir=tmp_path)


def test_a_grid_point_run_again_counts_once_the_latest_finished_run_winning():
    from sslexp.report.collect import SweepRun
    from sslexp.report.wandb_source import once_per_point

    def run(name, state, fold):
        return SweepRun(name, None, state, {"method": "ssl", "label_fraction": 0.1, "fold": fold})

    stopped, filled, later_stop = (
        run("a", "interrupted", 0),
        run("b", "finished", 0),
        run("c", "failed", 0),
    )
    first, again, other = run("d", "finished", 1), run("e", "finished", 1), run("f", "failed", 2)
    notes = []
    kept = once_per_point(
        [stopped, first, filled, again, later_stop, other],
        ["method", "label_fraction", "fold"],
        notes,
    )
    assert [r.run_id for r in kept] == ["b", "e", "f"]
    assert notes == [
        "b: 3 runs of one grid point on W&B; the latest finished one counts, not "
        "the 2 other(s) (failed, interrupted).",
        "e: 2 runs of one grid point on W&B; the latest finished one counts, not "
        "the 1 other(s) (finished).",
    ]
