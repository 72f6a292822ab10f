"""The comparison's second axis and the grouping of runs into experiments (no files)."""

import pytest

from sslexp.config import TrainConfig, flatten
from sslexp.report import plots
from sslexp.report.collect import SweepRun
from sslexp.report.comparison import compare, compare_volumes
from sslexp.report.experiments import ExperimentChoiceError, choose, group_experiments
from sslexp.runs.record import Record

POOL = 1000
SCRATCH = {0: 0.60, 1: 0.62, 2: 0.64}
GAIN = {0.1: 0.02, 0.5: 0.06, 1.0: 0.10}  # ssl - scratch grows with the unlabelled share


def run(method: str, fold: int, accuracy: float, share: float = 1.0, **config) -> SweepRun:
    record = Record(
        kind="train",
        state="finished",
        test={"accuracy": accuracy},
        split={"n_labels": 50, "pool_size": POOL, "labels_per_class": [25, 25]},
    )
    values = {
        "label_fraction": 0.05,
        "method": method,
        "fold": fold,
        "dataset": "digits",
        "pretext_unlabeled_fraction": share,
        **config,
    }
    return SweepRun(f"{method}-{fold}-{share}", None, "finished", values, record)


def volume_runs() -> list[SweepRun]:
    runs = [
        run("scratch", fold, accuracy, share)
        for share in GAIN
        for fold, accuracy in SCRATCH.items()
    ]  # repeated per share
    runs += [
        run("ssl", fold, accuracy + GAIN[share] + 0.01 * fold, share)
        for share in GAIN
        for fold, accuracy in SCRATCH.items()
    ]
    return runs


@pytest.mark.slow
def test_every_unlabelled_share_pairs_with_the_same_scratch_runs():
    rows = compare_volumes(volume_runs())
    assert [(row.volume, row.n_unlabeled) for row in rows] == [(0.1, 100), (0.5, 500), (1.0, 1000)]
    for row in rows:
        assert row.difference.n_pairs == 3
        assert row.difference.mean == pytest.approx(GAIN[row.volume] + 0.01)
    figure = plots.gain_vs_unlabeled(rows)
    assert figure.axes[0].get_xlabel().startswith("unlabelled images")


def test_the_main_comparison_uses_the_largest_share():
    comparison = compare(volume_runs())
    assert comparison.volume == 1.0
    (row,) = comparison.rows
    assert row.difference.mean == pytest.approx(GAIN[1.0] + 0.01)
    assert comparison.low_fractions == [0.05]  # 25 labels per class
    assert (comparison.pooled.units, comparison.pooled.pairs) == (3, 3)
    assert (
        compare_volumes([r for r in volume_runs() if r.config["pretext_unlabeled_fraction"] == 1.0])
        == []
    )


def test_experiments_split_on_settings_but_not_on_grid_axes():
    runs = volume_runs() + [
        run("ssl", 0, 0.7, image_size=12),
        run("scratch", 0, 0.6, image_size=12),
    ]
    experiments = group_experiments(runs)
    assert [(e.name, len(e.runs)) for e in experiments] == [
        ("image_size=32", 18),
        ("image_size=12", 2),
    ]
    with pytest.raises(ExperimentChoiceError, match="--experiment all"):
        choose(experiments, None)
    assert choose(experiments, "image_size=12") == [experiments[1]]
    assert choose(experiments, "all") == experiments


def test_scratch_runs_serve_every_ssl_experiment_that_differs_only_in_pretraining():
    scratch = [
        run("scratch", fold, accuracy, pretext_epochs=6, pretext_seeds="per-fold")
        for fold, accuracy in SCRATCH.items()
    ]
    short = [run("ssl", fold, 0.7, pretext_epochs=2) for fold in SCRATCH]
    long = [run("ssl", fold, 0.8, pretext_epochs=6) for fold in SCRATCH]
    experiments = group_experiments(short + scratch + long)
    assert [(e.name, len(e.runs)) for e in experiments] == [
        ("pretext_epochs=2", 6),
        ("pretext_epochs=6", 6),
    ]
    assert all(all(any(r is s for r in e.runs) for s in scratch) for e in experiments)
    other_size = [run("scratch", 0, 0.6, image_size=12)]  # serves no ssl experiment
    default_epochs = flatten(TrainConfig())["pretext_epochs"]
    assert [e.name for e in group_experiments(short + other_size)] == [
        "image_size=32,pretext_epochs=2",
        f"image_size=12,pretext_epochs={default_epochs}",
    ]
