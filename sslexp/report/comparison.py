"""The ssl vs scratch comparison per label fraction, from finished runs.

Pairs are formed by fold: at a given fraction, fold f of ssl and fold f of
scratch trained on the same labelled subset, so their difference removes the
subset's luck from the comparison.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sslexp.report.collect import SweepRun
from sslexp.report.stats import (
    LabelEfficiency,
    PairedDifference,
    Spread,
    describe,
    label_efficiency,
    paired_difference,
)

METHODS = ("ssl", "scratch")


@dataclass
class FractionRow:
    """Everything the report says about one label fraction."""

    label_fraction: float
    n_labels: Spread
    accuracy: dict[str, Spread]
    labels_by_method: dict[str, float]
    accuracy_by_fold: dict[str, dict[int, float]]
    difference: PairedDifference
    efficiency: LabelEfficiency

    @property
    def folds(self) -> int:
        """Distinct folds with a finished run of either method."""
        return len({fold for per_fold in self.accuracy_by_fold.values() for fold in per_fold})


@dataclass
class Comparison:
    rows: list[FractionRow]

    @property
    def label_fractions(self) -> list[float]:
        return [row.label_fraction for row in self.rows]


def compare(runs: list[SweepRun], confidence: float = 0.95) -> Comparison:
    """One ``FractionRow`` per label fraction that has any finished ssl or scratch run."""
    by_fraction: dict[float, list[SweepRun]] = {}
    for run in runs:
        if run.is_usable and run.method in METHODS:
            by_fraction.setdefault(round(run.label_fraction, 12), []).append(run)
    partial = [_summarize_fraction(fraction, by_fraction[fraction], confidence)
               for fraction in sorted(by_fraction)]
    scratch_curve = [(labels["scratch"], spread["scratch"].mean)
                     for _, labels, spread, _, _ in partial if spread["scratch"].n]
    rows = []
    for fraction, labels, spread, per_fold, difference in partial:
        efficiency = label_efficiency(
            spread["ssl"].mean, labels["ssl"],
            [point[0] for point in scratch_curve], [point[1] for point in scratch_curve],
        )
        all_labels = describe(
            run.n_labels for run in by_fraction[fraction] if run.n_labels is not None)
        rows.append(FractionRow(fraction, all_labels, spread, labels, per_fold, difference,
                                efficiency))
    return Comparison(rows)


def _summarize_fraction(fraction: float, runs: list[SweepRun], confidence: float):
    per_fold: dict[str, dict[int, float]] = {method: {} for method in METHODS}
    labels: dict[str, list[float]] = {method: [] for method in METHODS}
    for run in sorted(runs, key=_finish_order):
        # A rerun of the same fold replaces the run that finished before it.
        per_fold[run.method][run.fold if run.fold is not None else -1] = run.test_accuracy
        if run.n_labels is not None:
            labels[run.method].append(run.n_labels)
    spread = {method: describe(per_fold[method].values()) for method in METHODS}
    mean_labels = {method: float(np.mean(values)) if values else math.nan
                   for method, values in labels.items()}
    paired = sorted(set(per_fold["ssl"]) & set(per_fold["scratch"]) - {-1})
    difference = paired_difference(
        [per_fold["ssl"][fold] for fold in paired],
        [per_fold["scratch"][fold] for fold in paired],
        confidence,
    )
    return fraction, mean_labels, spread, per_fold, difference


def _finish_order(run: SweepRun) -> tuple[str, str]:
    return run.finished_at, run.run_id
