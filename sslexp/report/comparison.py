"""The ssl vs scratch comparison per label fraction, from finished runs of one experiment.

Pairs are formed by fold: at a given fraction, fold f of ssl and fold f of
scratch trained on the same labelled subset, so their difference removes the
subset's luck from the comparison. The per-fraction tests are adjusted with
Holm's method across the fractions, and each fraction also gets a distribution-free
sign test over its folds. The low-label fractions are tested together with a
sign-flip test blocked by fold: one fold's pairs at several fractions share the
backbone, the seeds and nested labelled images, so a fold, not a pair, is the
independent unit (``stats.fold_blocked_test``).

When the ssl runs differ in ``pretext_unlabeled_fraction`` (the second axis),
the main comparison uses the largest unlabelled share, and ``compare_volumes``
gives the gain at every share; scratch runs do not depend on it and pair with
the ssl runs of every share.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sslexp.report.collect import SweepRun
from sslexp.report.stats import (
    BlockedTest,
    Interval,
    LabelEfficiency,
    PairedDifference,
    SignTest,
    Spread,
    bootstrap_label_efficiency,
    describe,
    fold_blocked_test,
    holm_adjusted,
    label_efficiency,
    paired_difference,
    sign_test,
)
from sslexp.runs.record import as_float

METHODS = ("ssl", "scratch")
LOW_LABELS_PER_CLASS = 100  # fractions with at most this many labels per class are "low-label"
VOLUME_AXIS = "pretext_unlabeled_fraction"


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
    holm_p: float = math.nan
    efficiency_interval: Interval = Interval(math.nan, math.nan, 0)
    labels_per_class: float = math.nan

    @property
    def differences_by_fold(self) -> dict[int, float]:
        ssl, scratch = self.accuracy_by_fold["ssl"], self.accuracy_by_fold["scratch"]
        return {fold: ssl[fold] - scratch[fold] for fold in sorted(set(ssl) & set(scratch))
                if fold != -1}

    @property
    def folds(self) -> int:
        """Distinct folds with a finished run of either method."""
        return len({fold for per_fold in self.accuracy_by_fold.values() for fold in per_fold})

    @property
    def signs(self) -> SignTest:
        """The distribution-free statement beside the t-test: folds positive, exact sign p."""
        return sign_test(self.differences_by_fold.values())


@dataclass
class Comparison:
    rows: list[FractionRow]
    pooled: BlockedTest | None = None  # over the folds of the low-label fractions
    low_fractions: list[float] = field(default_factory=list)
    low_labels_per_class: float = LOW_LABELS_PER_CLASS
    volume: float | None = None  # the unlabelled share of the ssl runs compared, when it varies

    @property
    def label_fractions(self) -> list[float]:
        return [row.label_fraction for row in self.rows]


def unlabeled_fraction(run: SweepRun) -> float:
    value = as_float(run.config.get(VOLUME_AXIS))
    return 1.0 if value is None else value


def volumes(runs: list[SweepRun]) -> list[float]:
    """The unlabelled shares the finished ssl runs were pretrained on, ascending."""
    return sorted({round(unlabeled_fraction(run), 12) for run in runs
                   if run.is_usable and run.method == "ssl"})


def compare(runs: list[SweepRun], confidence: float = 0.95,
            low_labels_per_class: float = LOW_LABELS_PER_CLASS,
            volume: float | None = None) -> Comparison:
    """One ``FractionRow`` per label fraction that has any finished ssl or scratch run.

    ``volume``: compare only the ssl runs pretrained on this unlabelled share
    (default: the largest one present).
    """
    shares = volumes(runs)
    if volume is None and len(shares) > 1:
        volume = shares[-1]
    by_fraction: dict[float, list[SweepRun]] = {}
    for run in runs:
        if not (run.is_usable and run.method in METHODS):
            continue
        if volume is not None and run.method == "ssl" and not math.isclose(
                unlabeled_fraction(run), volume):
            continue
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
        interval = bootstrap_label_efficiency(
            per_fold["ssl"], labels["ssl"],
            [(row_labels["scratch"], row_folds["scratch"]) for _, row_labels, _, row_folds, _
             in partial if row_folds["scratch"] and math.isfinite(row_labels["scratch"])],
            confidence=confidence)
        all_labels = describe(
            run.n_labels for run in by_fraction[fraction] if run.n_labels is not None)
        rows.append(FractionRow(fraction, all_labels, spread, labels, per_fold, difference,
                                efficiency, efficiency_interval=interval,
                                labels_per_class=_labels_per_class(by_fraction[fraction])))
    for row, adjusted in zip(rows, holm_adjusted([row.difference.p_value for row in rows])):
        row.holm_p = adjusted
    low = [row for row in rows if math.isfinite(row.labels_per_class)
           and row.labels_per_class <= low_labels_per_class]
    pooled = fold_blocked_test(differences_by_fold(low)) if low else None
    return Comparison(rows, pooled, [row.label_fraction for row in low], low_labels_per_class,
                      volume)


def differences_by_fold(rows: list[FractionRow]) -> dict[int, list[float]]:
    """{fold: its ssl - scratch differences at the given fractions}: a fold's pairs together."""
    by_fold: dict[int, list[float]] = {}
    for row in rows:
        for fold, difference in row.differences_by_fold.items():
            by_fold.setdefault(fold, []).append(difference)
    return by_fold


def _labels_per_class(runs: list[SweepRun]) -> float:
    """Mean labelled examples per class (train + validation) of the runs at one fraction."""
    values = []
    for run in runs:
        if run.record is None:
            continue
        classes = (len(run.record.split_view.labels_per_class)
                   or len(run.record.test_view.class_names))
        if classes and run.n_labels is not None:
            values.append(run.n_labels / classes)
    return float(np.mean(values)) if values else math.nan


@dataclass
class VolumeRow:
    """The gain at one (label fraction, unlabelled share)."""

    label_fraction: float
    volume: float
    n_unlabeled: float
    difference: PairedDifference


def compare_volumes(runs: list[SweepRun], confidence: float = 0.95) -> list[VolumeRow]:
    """ssl - scratch by fold at every (label fraction, unlabelled share); empty unless the
    share varies. Each ssl share pairs with the same scratch runs."""
    shares = volumes(runs)
    if len(shares) < 2:
        return []
    rows = []
    for share in shares:
        for row in compare(runs, confidence, volume=share).rows:
            if not row.accuracy["ssl"].n:
                continue
            pool = [run.record.split_view.pool_size for run in runs if run.record is not None]
            pool = [size for size in pool if size is not None]
            n_unlabeled = round(share * pool[0]) if pool else math.nan
            rows.append(VolumeRow(row.label_fraction, share, n_unlabeled, row.difference))
    return rows


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
