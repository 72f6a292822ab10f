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
        raise ValueError(f"paired values need the same length, got {first.size} and {second.size}")
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
        n,
        mean,
        std,
        mean - half_width,
        mean + half_width,
        float(test.statistic),
        float(test.pvalue),
        confidence,
    )


EFFICIENCY_CURVE = (
    "monotone cubic interpolation (PCHIP) in log(labels) through the scratch "
    "means, made non-decreasing first (isotonic regression) where they dip"
)


def monotone_curve(labels, accuracies):
    """The scratch curve label efficiency reads: a PCHIP interpolant in log(labels) through
    the means, after isotonic regression has made them non-decreasing (more labels never
    predicted worse). Returns (log labels, fitted means, the interpolant or None for one point).

    Straight lines in log(labels) across a wide gap of the grid overstate the labels scratch
    needs where the curve bends; PCHIP follows the bend and, unlike a cubic spline, never
    overshoots between the points, so the curve stays monotone.
    """
    from scipy.interpolate import PchipInterpolator
    from sklearn.isotonic import IsotonicRegression

    log_labels = np.log(np.asarray(labels, dtype=float))
    fitted = IsotonicRegression(increasing=True).fit_transform(log_labels, accuracies)
    if log_labels.size < 2:
        return log_labels, fitted, None
    return log_labels, fitted, PchipInterpolator(log_labels, fitted)


def labels_to_reach(target_accuracy: float, labels, accuracies) -> tuple[float, str]:
    """Labels at which the scratch curve (``labels`` -> mean ``accuracies``) reaches the target.

    Reads ``monotone_curve`` (named in the report as ``EFFICIENCY_CURVE``). Returns
    ``(labels, bound)`` with ``bound`` as in ``LabelEfficiency``: outside the measured
    grid the answer is a bound, never an extrapolation.
    """
    from scipy.optimize import brentq

    labels = np.asarray(list(labels), dtype=float)
    accuracies = np.asarray(list(accuracies), dtype=float)
    usable = np.isfinite(labels) & np.isfinite(accuracies) & (labels > 0)
    labels, accuracies = labels[usable], accuracies[usable]
    if labels.size == 0 or not math.isfinite(target_accuracy):
        return NAN, "unknown"
    unique = np.unique(labels)  # sorted; repeated sizes enter by their mean
    means = np.array([accuracies[labels == value].mean() for value in unique])
    log_labels, fitted, curve = monotone_curve(unique, means)
    if fitted[0] >= target_accuracy:
        return float(unique[0]), "at_most"
    if fitted[-1] < target_accuracy:
        return float(unique[-1]), "more_than"
    index = int(np.argmax(fitted >= target_accuracy))  # first point at or above the target
    low, high = log_labels[index - 1], log_labels[index]
    if fitted[index] == target_accuracy:
        return float(unique[index]), "interpolated"
    crossing = brentq(lambda x: float(curve(x)) - target_accuracy, low, high)
    return float(np.exp(crossing)), "interpolated"


def label_efficiency(
    target_accuracy: float, target_labels: float, labels, accuracies
) -> LabelEfficiency:
    """``labels_to_reach`` on the scratch curve, as a ratio to the labels ssl used."""
    needed, bound = labels_to_reach(target_accuracy, labels, accuracies)
    ratio = needed / target_labels if target_labels and math.isfinite(target_labels) else NAN
    return LabelEfficiency(target_accuracy, needed, bound, ratio)


def holm_adjusted(p_values) -> list[float]:
    """Holm's step-down adjustment: sort the m p-values ascending; the k-th (1-based) becomes
    max over j <= k of min(1, (m - j + 1) p_j). NaN p-values (too few pairs) stay NaN and do
    not count in m."""
    values = [float(p) for p in p_values]
    finite = sorted((p, index) for index, p in enumerate(values) if math.isfinite(p))
    m = len(finite)
    adjusted = [NAN] * len(values)
    running = 0.0
    for rank, (p, index) in enumerate(finite):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[index] = running
    return adjusted


@dataclass(frozen=True)
class SignFlipTest:
    """Mean of paired differences and the sign-flip permutation p-value (two-sided unless
    ``alternative`` says "greater" or "less")."""

    n_pairs: int
    mean: float
    p_value: float
    exact: bool
    alternative: str = "two-sided"


EXACT_SIGN_FLIPS_UP_TO = 16  # 2^16 sign patterns; beyond that, a seeded Monte Carlo sample
ALTERNATIVES = ("two-sided", "greater", "less")  # as scipy spells them


def sign_flip_test(
    differences, resamples: int = 20_000, seed: int = 0, alternative: str = "two-sided"
) -> SignFlipTest:
    """H0: each difference is as likely positive as negative. Exact (every sign pattern)
    for up to ``EXACT_SIGN_FLIPS_UP_TO`` pairs, else ``resamples`` random patterns.
    Uses ``scipy.stats.permutation_test`` (one sample, ``samples``: signs are flipped).

    ``alternative``: "two-sided" (the default), or "greater" / "less" when only one direction
    is a finding (H1: the mean difference is above / below zero); a one-sided exact p can go
    down to 1 / 2^pairs, half the two-sided floor.
    """
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {ALTERNATIVES}, got {alternative!r}")
    array = np.asarray(list(differences), dtype=float)
    array = array[np.isfinite(array)]
    n = int(array.size)
    if n == 0:
        return SignFlipTest(0, NAN, NAN, True, alternative)
    if n == 1 or not np.any(array):  # scipy needs two values; every flip of zeros ties
        return SignFlipTest(
            n, float(array.mean()), _one_pair_p(array, alternative), True, alternative
        )
    exact = n <= EXACT_SIGN_FLIPS_UP_TO
    result = scipy_stats.permutation_test(
        (array,),
        np.mean,
        permutation_type="samples",
        alternative=alternative,
        n_resamples=2**n if exact else resamples,
        rng=np.random.default_rng(seed),
    )
    return SignFlipTest(n, float(array.mean()), float(min(1.0, result.pvalue)), exact, alternative)


def _one_pair_p(array: np.ndarray, alternative: str) -> float:
    """The exact p of one difference (or of only zeros): its two sign patterns are the null.
    Two-sided, both reach |d|; one-sided, only the pattern on the tested side does, unless
    the difference is zero or on the other side."""
    total = float(array.sum())
    if (alternative == "greater" and total > 0) or (alternative == "less" and total < 0):
        return 0.5
    return 1.0


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    resamples: int
    confidence: float = 0.95


def bootstrap_label_efficiency(
    ssl_by_fold: dict[int, float],
    ssl_labels: float,
    scratch_curve: list[tuple[float, dict[int, float]]],
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap over folds of ``label_efficiency``'s ratio.

    Each resample draws folds with replacement; ssl's mean and every point of
    the scratch mean curve (``[(labels, {fold: accuracy})]``) are recomputed
    from the drawn folds, so a fold's luck moves both together. Bounded ratios
    (scratch never reaches ssl, or already does at its fewest labels) enter at
    their bound, which makes the interval conservative on that side.
    """
    folds = sorted(set(ssl_by_fold) | {fold for _, by_fold in scratch_curve for fold in by_fold})
    if len(folds) < 2 or len(ssl_by_fold) < 2 or not scratch_curve:
        return Interval(NAN, NAN, 0, confidence)
    rng = np.random.default_rng(seed)
    ratios = []
    for _ in range(resamples):
        drawn = rng.choice(folds, size=len(folds), replace=True)
        ssl = [ssl_by_fold[fold] for fold in drawn if fold in ssl_by_fold]
        points = []
        for labels, by_fold in scratch_curve:
            values = [by_fold[fold] for fold in drawn if fold in by_fold]
            if values:
                points.append((labels, float(np.mean(values))))
        if not ssl or not points:
            continue
        ratio = label_efficiency(
            float(np.mean(ssl)), ssl_labels, [p[0] for p in points], [p[1] for p in points]
        ).ratio
        if math.isfinite(ratio):
            ratios.append(ratio)
    if not ratios:
        return Interval(NAN, NAN, 0, confidence)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return Interval(float(low), float(high), len(ratios), confidence)


MIN_PAIRS = 3


def too_few_pairs(n_pairs: int, minimum: int = MIN_PAIRS) -> bool:
    """Fewer than ``minimum`` paired folds: the t-interval is too wide to say much."""
    return n_pairs < minimum


def exact_p_floor(units: int, one_sided: bool = False) -> float:
    """The smallest p-value an exact sign-flip (or sign) test over ``units`` independent
    units can give: the patterns with every sign alike, 2 / 2^units two-sided, or the one
    pattern on the tested side, 1 / 2^units one-sided."""
    if units <= 0:
        return 1.0
    return min(1.0, (1.0 if one_sided else 2.0) / 2**units)


def can_reach(alpha: float, units: int, one_sided: bool = False) -> bool:
    """Whether an exact test over ``units`` independent units can go below ``alpha``."""
    return exact_p_floor(units, one_sided) < alpha


@dataclass(frozen=True)
class BlockedTest:
    """A sign-flip test whose independent units are folds.

    The pairs of one fold at several label fractions share the backbone, the seeds and
    nested labelled images, so they are one unit: each fold contributes the mean of its
    differences over the pooled fractions, and whole folds are flipped.
    """

    units: int  # folds: the number of independent units
    pairs: int  # fold pairs pooled into those units
    mean: float  # mean over folds of the fold means
    p_value: float
    p_floor: float  # the smallest p this many units can give (2 / 2^units)
    exact: bool
    fold_means: dict[int, float]


def fold_blocked_test(
    differences_by_fold: dict[int, list[float]], resamples: int = 20_000, seed: int = 0
) -> BlockedTest:
    """``sign_flip_test`` on the fold means of ``{fold: [differences at the pooled fractions]}``."""
    fold_means = {
        fold: float(np.mean(values))
        for fold, values in sorted(differences_by_fold.items())
        if len(values)
    }
    result = sign_flip_test(list(fold_means.values()), resamples, seed)
    pairs = sum(len(values) for values in differences_by_fold.values())
    return BlockedTest(
        result.n_pairs,
        pairs,
        result.mean,
        result.p_value,
        exact_p_floor(result.n_pairs),
        result.exact,
        fold_means,
    )


@dataclass(frozen=True)
class SignTest:
    """Distribution-free: how many folds favour ssl, and the exact two-sided sign test's p.

    Ties (a difference of exactly zero) carry no sign and are left out, as the sign test
    prescribes.
    """

    positive: int
    negative: int
    ties: int
    p_value: float

    @property
    def units(self) -> int:
        return self.positive + self.negative

    @property
    def p_floor(self) -> float:
        return exact_p_floor(self.units)

    def statement(self) -> str:
        """``5 of 5 folds positive (exact sign test p = 0.0625)``."""
        if not self.units:
            return "no fold with a nonzero difference"
        ties = f", {self.ties} tied" if self.ties else ""
        return (
            f"{self.positive} of {self.units} folds positive{ties} "
            f"(exact sign test p = {self.p_value:.3g})"
        )


def sign_test(differences) -> SignTest:
    """``scipy.stats.binomtest`` of the positive differences among the nonzero ones."""
    array = np.asarray(list(differences), dtype=float)
    array = array[np.isfinite(array)]
    positive, negative = int((array > 0).sum()), int((array < 0).sum())
    ties = int(array.size - positive - negative)
    if positive + negative == 0:
        return SignTest(0, 0, ties, NAN)
    p_value = scipy_stats.binomtest(positive, positive + negative, 0.5).pvalue
    return SignTest(positive, negative, ties, float(min(1.0, p_value)))
