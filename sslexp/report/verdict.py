"""The report's opening: one or two sentences computed from the numbers, then the
warnings that limit them. Plain strings, so the HTML, the Markdown, the console
and the W&B Report all say the same.

Significance is only ever claimed from Holm-adjusted p-values below
``ALPHA`` (and, for the pooled claim, the fold-blocked sign-flip test's p below
it). Beside each claim stands what does not rest on normality: how many folds
favour ssl and the exact sign test's p; when the folds are too few for any exact
test to go below ``ALPHA`` (2 / 2^folds), a warning says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sslexp.report.comparison import Comparison, FractionRow
from sslexp.report.format import points
from sslexp.report.stats import MIN_PAIRS, can_reach, exact_p_floor

ALPHA = 0.05
MIN_VAL_PER_CLASS = 5  # fewer validation examples per class: epoch selection is noisy


@dataclass(frozen=True)
class RunFacts:
    """What the warnings need to know about the finished runs of an experiment."""

    cap_hit: list[str]  # runs still improving when their cap stopped them
    noisy_validation: dict[float, float]  # label fraction -> fewest validation images per class
    without_validation: int  # runs that kept their last weights (select: last)
    pretrain_still_improving: list[str]  # pretrain directories whose last epoch was best


def verdict(comparison: Comparison, alpha: float = ALPHA) -> list[str]:
    """One or two sentences: where ssl and scratch differ significantly, and where not."""
    rows = [row for row in comparison.rows if row.difference.n_pairs]
    if not rows:
        return [
            "No label fraction has a finished ssl and scratch run of the same fold yet, "
            "so there is nothing to compare."
        ]
    significant = [row for row in rows if _significant(row, alpha)]
    sentences = []
    if significant:
        first = significant[0]
        winner, loser = ("ssl", "scratch") if first.difference.mean > 0 else ("scratch", "ssl")
        sentence = (
            f"{winner} beats {loser} by {_points(abs(first.difference.mean))} points "
            f"at {_labels(first)} labels ({_interval(first)}, Holm-adjusted "
            f"p = {_p(first.holm_p)}; {_distribution_free(first, alpha)})"
        )
        others = significant[1:]
        if others:
            sentence += "; also significant at " + ", ".join(
                f"{_labels(row)} labels ({_signed_points(row.difference.mean)}, "
                f"p = {_p(row.holm_p)})"
                for row in others
            )
        tail = _not_significant_from(rows, alpha)
        if tail is not None:
            sentence += f"; no significant difference from {_labels(tail)} labels on"
        sentences.append(sentence + ".")
    else:
        best = min(rows, key=lambda row: row.holm_p if math.isfinite(row.holm_p) else 2.0)
        if math.isfinite(best.holm_p):
            sentences.append(
                f"No label fraction shows a significant difference between ssl and scratch "
                f"after Holm's correction over {_tested(rows)} fractions ("
                + (
                    "all Holm-adjusted p = 1.00; "
                    if best.holm_p >= 1
                    else f"smallest adjusted p = {_p(best.holm_p)}, "
                )
                + f"at {_labels(best)} labels: ssl - scratch = "
                f"{_signed_points(best.difference.mean)} points, {_interval(best)})."
            )
        else:
            sentences.append(
                f"No label fraction has the {MIN_PAIRS - 1}+ fold pairs a test needs; "
                f"ssl - scratch is {_signed_points(rows[0].difference.mean)} points at "
                f"{_labels(rows[0])} labels, untested."
            )
    pooled = comparison.pooled
    if pooled is not None and pooled.units:
        low = ", ".join(f"{fraction:g}" for fraction in comparison.low_fractions)
        claim = "significant" if pooled.p_value < alpha else "not significant"
        sentences.append(
            f"Pooled over the low-label fractions ({low}: at most "
            f"{comparison.low_labels_per_class:g} labels per class) and blocked by fold, "
            f"ssl - scratch = {_signed_points(pooled.mean)} points over {pooled.units} "
            f"independent fold{'s' if pooled.units != 1 else ''} ({pooled.pairs} fold pairs; "
            f"{'exact ' if pooled.exact else ''}sign-flip p = {_p(pooled.p_value)}, the "
            f"smallest {pooled.units} folds allow being {_p(pooled.p_floor)}; {claim})."
        )
    return sentences


def pooled_test_text(comparison: Comparison) -> str:
    """The fold-blocked pooled test as the report's tables section states it."""
    pooled = comparison.pooled
    if pooled is None or not pooled.units:
        return "Fold-blocked pooled test: no low-label fraction has a fold pair yet."
    means = ", ".join(
        f"fold {fold}: {_signed_points(mean)}" for fold, mean in pooled.fold_means.items()
    )
    return (
        f"Fold-blocked pooled test over the low-label fractions: {pooled.units} independent "
        f"units (folds) from {pooled.pairs} fold pairs; fold means of ssl - scratch in "
        f"points: {means}; mean {_signed_points(pooled.mean)}, "
        f"{'exact' if pooled.exact else 'sampled'} two-sided sign-flip p = "
        f"{_p(pooled.p_value)}; the smallest p {pooled.units} units can give is "
        f"2/2^{pooled.units} = {pooled.p_floor:.4g}."
    )


def _distribution_free(row: FractionRow, alpha: float) -> str:
    """The sign test beside a t-test claim, and whether the claim rests on normality."""
    signs = row.signs
    text = signs.statement()
    if signs.units and signs.p_value >= alpha:
        text += (
            ", so this rests on the t-test's normality"
            if not can_reach(alpha, signs.units)
            else ", not significant without the t-test's normality"
        )
    return text


def min_folds_for(alpha: float) -> int:
    """The fewest folds whose exact fold-level test can go below ``alpha``."""
    folds = 1
    while not can_reach(alpha, folds):
        folds += 1
    return folds


def warnings(
    comparison: Comparison, facts: RunFacts, min_val_per_class: float = MIN_VAL_PER_CLASS
) -> list[str]:
    """What limits the verdict, most serious first."""
    found = []
    if facts.cap_hit:
        found.append(
            f"{len(facts.cap_hit)} run(s) were still improving when they reached their update "
            f"cap (best validation = last validation): {_listing(facts.cap_hit)}. Their "
            f"accuracy is limited by the budget; raise --max-updates."
        )
    few = [row for row in comparison.rows if row.difference.n_pairs < MIN_PAIRS]
    if few:
        found.append(
            "Fewer than 3 fold pairs at label fraction(s) "
            + ", ".join(f"{row.label_fraction:g} ({row.difference.n_pairs})" for row in few)
            + ": their intervals and tests say little."
        )
    if facts.noisy_validation:
        found.append(
            "Epoch selection is noisy at label fraction(s) "
            + ", ".join(
                f"{fraction:g} ({count:g} per class)"
                for fraction, count in sorted(facts.noisy_validation.items())
            )
            + f": fewer than {min_val_per_class:g} validation images per class chose the "
            f"epoch (consider --select last with --budget matched)."
        )
    design = _design_limit(comparison, alpha=ALPHA)
    if design:
        found.append(design)
    if facts.pretrain_still_improving:
        found.append(
            f"Pretraining was still improving at its last epoch in "
            f"{_listing(facts.pretrain_still_improving)} (by the k-NN probe of its features, "
            f"or by rotation accuracy where no probe ran): more pretraining may help ssl."
        )
    if facts.without_validation:
        found.append(
            f"{facts.without_validation} run(s) had no validation split (select: "
            f"last): they kept their final weights after a matched budget."
        )
    if comparison.volume is not None:
        share = (
            "all of the pool's images"
            if comparison.volume == 1
            else f"{100 * comparison.volume:g}% of the pool's images"
        )
        found.append(
            f"The per-fraction comparison uses the ssl runs pretrained on {share} (the "
            f"largest unlabelled share in this experiment)."
        )
    return found


def _design_limit(comparison: Comparison, alpha: float) -> str | None:
    """A warning when too few folds let no exact, distribution-free test reach ``alpha``."""
    units = [row.signs.units for row in comparison.rows if row.signs.units]
    if comparison.pooled is not None and comparison.pooled.units:
        units.append(comparison.pooled.units)
    if not units or can_reach(alpha, max(units)):
        return None
    most = max(units)
    return (
        f"With {most} fold(s) no exact distribution-free test can reach p < {alpha:g}: "
        f"its smallest two-sided p is 2/2^{most} = {exact_p_floor(most):.4g}. "
        f"Per-fraction significance rests on the t-test's normality and the fold-blocked "
        f"pooled test cannot be significant; run at least {min_folds_for(alpha)} folds "
        f"({min_folds_for(0.01)} for p < 0.01)."
    )


def _significant(row: FractionRow, alpha: float) -> bool:
    return math.isfinite(row.holm_p) and row.holm_p < alpha


def _not_significant_from(rows: list[FractionRow], alpha: float) -> FractionRow | None:
    """The row from which on (more labels) no fraction is significant, if any."""
    tail = None
    for row in reversed(rows):
        if _significant(row, alpha):
            break
        tail = row
    return tail


def _tested(rows: list[FractionRow]) -> int:
    return sum(1 for row in rows if math.isfinite(row.holm_p))


def _labels(row: FractionRow) -> str:
    labels = row.labels_by_method.get("ssl", math.nan)
    if not math.isfinite(labels):
        labels = row.n_labels.mean
    return f"{labels:,.0f}" if math.isfinite(labels) else f"label fraction {row.label_fraction:g}"


def _interval(row: FractionRow) -> str:
    difference = row.difference
    if not math.isfinite(difference.ci_low):
        return "no interval"
    return (
        f"{difference.confidence:.0%} CI [{_signed_points(difference.ci_low)}, "
        f"{_signed_points(difference.ci_high)}]"
    )


def _points(value: float) -> str:
    return points(value, digits=1)


def _signed_points(value: float) -> str:
    return points(value, signed=True, digits=1)


def _p(value: float) -> str:
    return f"{value:.2g}"


def _listing(names: list[str], shown: int = 6) -> str:
    return ", ".join(names[:shown]) + (
        f" and {len(names) - shown} more" if len(names) > shown else ""
    )
