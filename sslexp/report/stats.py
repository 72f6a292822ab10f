"""Statistics of the comparison, on plain numbers (no file or run objects here).

Accuracies are fractions in [0, 1]. Spreads use the sample standard deviation
(ddof=1); anything that needs two values is NaN with fewer.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

NAN = float("nan")


@dataclass(frozen=True)
class Spread:
    """Mean and spread of one method's test accuracy over folds."""

    n: int
    mean: float
    std: float
    min: float
    max: float


@dataclass(frozen=True)
class PairedDifference:
    """ssl minus scratch over the folds both finished, with a t-interval and paired t-test."""

    n_pairs: int
    mean: float
    std: float
    ci_low: float
    ci_high: float
    t_statistic: float
    p_value: float
    confidence: float = 0.95


@dataclass(frozen=True)
class LabelEfficiency:
    """How many labels scratch needs to match ssl's accuracy, and the ratio to ssl's labels.

    ``bound`` says how to read ``labels_needed``: ``interpolated`` (a point on the
    scratch curve), ``at_most`` (scratch already matches ssl at its fewest labels,
    so ``labels_needed`` is an upper bound), ``more_than`` (ssl beats every scratch
    point, so the true number exceeds ``labels_needed``, the most labels scratch had),
    or ``unknown`` (no scratch curve or no ssl accuracy).
    """

    target_accuracy: float
    labels_needed: float
    bound: str
    ratio: float


def describe(values) -> Spread:
    """Mean, sample std, min and max of ``values`` (NaN where undefined)."""
    array = np.asarray(list(values), dtype=float)
    if array.size == 0:
        return Spread(0, NAN, NAN, NAN, NAN)
    std = float(array.std(ddof=1)) if array.size > 1 else NAN
    return Spread(int(array.size), float(array.mean()), std, float(array.min()), float(array.max()))


def paired_difference(first, second, confidence: float = 0.95) -> PairedDifference:
    """``first - second`` paired element by element: mean, t-interval and ``ttest_rel`` p-value."""
    first = np.asarray(list(first), dtype=float)
    second = np.asarray(list(second), dtype=float)
    if first.shape != second.shape:
        raise ValueError(
            f"paired values need the same length, got {first.size} and {second.size}"
        )
    differences = first - second
    n = int(differences.size)
    if n == 0:
        return PairedDifference(0, NAN, NAN, NAN, NAN, NAN, NAN, confidence)
    mean = float(differences.mean())
    if n < 2:
        return PairedDifference(n, mean, NAN, NAN, NAN, NAN, NAN, confidence)
    std = float(differences.std(ddof=1))
    half_width = float(scipy_stats.t.ppf(0.5 + confidence / 2, df=n - 1)) * std / math.sqrt(n)
    with warnings.catch_warnings():
        # Identical differences give a zero variance; scipy warns and returns inf/NaN.
        warnings.simplefilter("ignore", RuntimeWarning)
        test = scipy_stats.ttest_rel(first, second)
    return PairedDifference(
        n, mean, std, mean - half_width, mean + half_width,
        float(test.statistic), float(test.pvalue), confidence,
    )


def labels_to_reach(target_accuracy: float, labels, accuracies) -> tuple[float, str]:
    """Labels at which the curve (``labels`` -> mean ``accuracies``) first reaches the target.

    Linear interpolation in log(labels) between the two points around the first
    crossing. Returns ``(labels, bound)`` with ``bound`` as in ``LabelEfficiency``.
    """
    labels = np.asarray(list(labels), dtype=float)
    accuracies = np.asarray(list(accuracies), dtype=float)
    usable = np.isfinite(labels) & np.isfinite(accuracies) & (labels > 0)
    labels, accuracies = labels[usable], accuracies[usable]
    if labels.size == 0 or not math.isfinite(target_accuracy):
        return NAN, "unknown"
    order = np.argsort(labels, kind="stable")
    labels, accuracies = labels[order], accuracies[order]
    if accuracies[0] >= target_accuracy:
        return float(labels[0]), "at_most"
    for index in range(labels.size - 1):
        low, high = accuracies[index], accuracies[index + 1]
        if low < target_accuracy <= high:
            share = (target_accuracy - low) / (high - low)
            low_log, high_log = np.log(labels[index]), np.log(labels[index + 1])
            return float(np.exp(low_log + share * (high_log - low_log))), "interpolated"
    return float(labels[-1]), "more_than"


def label_efficiency(target_accuracy: float, target_labels: float, labels,
                     accuracies) -> LabelEfficiency:
    """``labels_to_reach`` on the scratch curve, as a ratio to the labels ssl used."""
    needed, bound = labels_to_reach(target_accuracy, labels, accuracies)
    ratio = needed / target_labels if target_labels and math.isfinite(target_labels) else NAN
    return LabelEfficiency(target_accuracy, needed, bound, ratio)
