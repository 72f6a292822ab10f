"""Reading sweep directories, including the awkward ones real sweeps leave behind."""

import json

import pytest

from sslexp.report.collect import collect_sweep, find_pretrains
from sslexp.report.comparison import compare
from tests.report import sweep_factory


def test_finished_failed_and_missing_runs_are_told_apart(sweep_dir):
    sweep = collect_sweep(sweep_dir)
    counts = sweep.state_counts()
    assert counts["finished"] == 16
    assert counts["failed"] == 1
    assert counts["missing"] == 1
    assert len(sweep.grid) == 18
    (failed,) = sweep.runs_in_state("failed")
    assert failed.run_id == sweep_factory.run_id(*sweep_factory.FAILED)
    assert sweep_factory.FAILURE_MESSAGE in failed.error
    (missing,) = sweep.missing_points
    method, fraction, fold = sweep_factory.MISSING
    assert missing.values == {"label_fraction": fraction, "method": method, "fold": fold}


def test_without_a_ledger_runs_are_globbed(tmp_path):
    sweep = collect_sweep(sweep_factory.write_sweep(tmp_path, with_ledger=False))
    assert not sweep.has_ledger
    assert any("ledger" in note for note in sweep.notes)
    assert sweep.state_counts()["finished"] == 16
    assert sweep.state_counts()["failed"] == 1


def test_ledger_failure_wins_over_a_results_file_left_running(sweep_dir):
    run = sweep_factory.run_id("ssl", 0.3, 2)
    results_path = sweep_dir / "runs" / run / "results.json"
    results = json.loads(results_path.read_text())
    results.update(state="running", test=None)
    results_path.write_text(json.dumps(results))
    ledger_path = sweep_dir / "ledger.json"
    ledger = json.loads(ledger_path.read_text())
    ledger["runs"][run].update(state="failed", exit_code=-9, error=None)
    ledger_path.write_text(json.dumps(ledger))

    record = {r.run_id: r for r in collect_sweep(sweep_dir).runs}[run]
    assert record.state == "failed"
    assert record.error == "exit code -9"
    assert not record.is_usable


def test_a_ledger_run_without_results_is_still_listed(sweep_dir):
    ledger_path = sweep_dir / "ledger.json"
    ledger = json.loads(ledger_path.read_text())
    ledger["runs"]["crashed-early"] = {
        "config": {"label_fraction": "1.0", "method": "ssl", "fold": 2},  # string spelling
        "state": "failed",
        "exit_code": 2,
        "results_file": "runs/crashed-early/results.json",
        "error": "bad --pretrained",
    }
    ledger_path.write_text(json.dumps(ledger))
    sweep = collect_sweep(sweep_dir)
    crashed = {r.run_id: r for r in sweep.runs}["crashed-early"]
    assert crashed.state == "failed" and crashed.error == "bad --pretrained"
    # the grid point it was meant to fill is no longer missing, but failed
    assert sweep.missing_points == []
    assert sum(point.state == "failed" for point in sweep.grid) == 2


def test_pretrain_is_found_through_the_ssl_runs(sweep_dir):
    (pretrain,) = find_pretrains(collect_sweep(sweep_dir))
    assert pretrain.directory.name == "pretrain"
    assert len(pretrain.history) == 4
    assert pretrain.best_val_accuracy == pytest.approx(0.64)
    assert len(pretrain.run_ids) == 8  # ssl runs: 9 grid points minus the missing one


def test_an_empty_or_absent_directory_is_an_error_that_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a directory"):
        collect_sweep(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="sweep local"):
        collect_sweep(tmp_path)


@pytest.mark.slow
def test_comparison_pairs_by_fold_and_skips_unfinished_runs(sweep_dir):
    rows = {row.label_fraction: row for row in compare(collect_sweep(sweep_dir).runs).rows}
    assert sorted(rows) == [0.1, 0.3, 1.0]
    smallest = rows[0.1]
    assert smallest.difference.n_pairs == 3
    assert smallest.difference.mean == pytest.approx(0.10)
    assert smallest.n_labels.mean == 50
    # scratch fold 1 failed at 0.3: two pairs left
    assert rows[0.3].accuracy["scratch"].n == 2
    assert rows[0.3].difference.n_pairs == 2
    assert rows[0.3].folds == 3
    # ssl fold 2 missing at 1.0
    assert rows[1.0].accuracy["ssl"].n == 2
    # ssl at 0.1 (mean 0.72) is reached by the scratch mean curve between 50 and 150 labels
    # (0.62 -> 0.77, then 0.91 at 500): the monotone cubic through the three points bends,
    # so it needs fewer labels than the straight line's 50 * 3^(2/3) (ratio 2.08)
    assert smallest.efficiency.bound == "interpolated"
    assert 1 < smallest.efficiency.ratio < 3 ** (2 / 3)
    assert smallest.efficiency.ratio == pytest.approx(2.0409, abs=1e-4)
    # ssl at 1.0 (0.92) beats every scratch mean (max 0.91)
    assert rows[1.0].efficiency.bound == "more_than"
