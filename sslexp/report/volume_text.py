"""The answer of a volume sweep in words: the one sentence, the table and the section
of the report (``sslexp.report.volume`` computes it)."""

from __future__ import annotations

import math

from sslexp.report.format import count, finite, p_value, points
from sslexp.report.stats import EXACT_SIGN_FLIPS_UP_TO, PairedDifference
from sslexp.report.volume import Compute, DoublingSlope, FoldGains, Shortfall, VolumeAnswer

COARSE_HALF_WIDTH = 0.05  # an interval this wide (5 points each side) is shown in whole points

COLUMNS = (
    "unlabelled share",
    "unlabelled images",
    "pretext updates",
    "gain, fold mean (pp)",
    "shortfall vs largest (pp)",
    "95% CI (pp)",
    "one-sided sign-flip p",
    "verdict",
)


def sentence(answer: VolumeAnswer) -> str:
    """The answer in one sentence: the smallest sufficient volume, with its shortfall's
    interval and test, then the gain per doubling, both over folds."""
    gains = answer.gains
    if not gains.folds:
        return (
            "How much unlabelled data is needed cannot be answered yet: no fold has a finished "
            "ssl run at every unlabelled volume and a scratch run at every pooled label fraction."
        )
    return (
        f"{compute_phrase(answer.compute, gains)}, {_claim(answer)}; "
        f"{doubling_phrase(answer.doubling)} over {_folds(answer)}."
    )


def _claim(answer: VolumeAnswer) -> str:
    """Which volume suffices, and the shortfall behind it in brackets."""
    gains = answer.gains
    largest = gains.volumes[-1]
    whole = math.isclose(largest, 1.0)
    reference = "the whole pool's" if whole else "the largest volume's"
    if not answer.can_reach:  # cite the smallest volume: the largest shortfall there is
        floor = (
            f"a one-sided exact p cannot go below 1/2^{answer.units} = {answer.floor:.3g}; "
            f"{_evidence(answer, answer.rows[0])}"
        )
        return (
            f"{_folds_word(answer.units)} are too few to find any volume's gain below "
            f"{reference} ({floor})"
        )
    if answer.sufficient == largest:
        cited = answer.rows[-2]
        return (
            f"{'the whole pool' if whole else 'the largest volume tested'} is needed: "
            f"{_images(gains, cited.volume)} unlabelled images give a gain significantly "
            f"below {reference} ({_evidence(answer, cited)})"
        )
    cited = answer.row(answer.sufficient)
    smallest = ", the smallest tested," if answer.sufficient == gains.volumes[0] else ""
    return (
        f"pretraining on {_images(gains, cited.volume)} unlabelled images{smallest} already "
        f"gives a gain not significantly below {reference} ({_evidence(answer, cited)})"
    )


def compute_phrase(compute: Compute, gains: FoldGains) -> str:
    """Whether the volumes had the same pretraining compute, as the sentence opens."""
    if compute.matched:
        (updates,) = next(iter(compute.updates.values()))
        return f"With {count(updates)} pretext updates at every volume"
    if not compute.by_epochs:
        return "With pretext updates that differ between volumes (see the table)"
    epochs = set(compute.epochs.values())
    same = f" ({count(next(iter(epochs))[0])})" if len(epochs) == 1 and all(epochs) else ""
    if all(len(values) == 1 for values in compute.recorded.values()):
        updates = ", ".join(
            f"{count(values[0])} at {_images(gains, share)} images"
            for share, values in compute.recorded.items()
        )
        how_many = f"recorded updates: {updates}"
    else:
        how_many = "how many updates each volume got is not recorded"
    return (
        f"With the same number of pretext epochs{same} at every volume, not the same number "
        f"of updates ({how_many})"
    )


def doubling_phrase(doubling: DoublingSlope) -> str:
    """``each doubling of the unlabelled images adds +0.4 points (95% CI [+0.1, +0.7],
    one-sample t-test p = 0.02)``."""
    estimate = doubling.estimate
    digits = _digits(estimate)
    verb = "adds" if not estimate.mean < 0 else "changes the gain by"
    return (
        f"each doubling of the unlabelled images {verb} "
        f"{points(estimate.mean, True, digits)} points ({_interval(estimate, digits)}, "
        f"one-sample t-test p = {_p(estimate.p_value, 2)})"
    )


def _evidence(answer: VolumeAnswer, cited: Shortfall) -> str:
    """The numbers behind the claim: both gains, the shortfall, its interval and test."""
    gains = answer.gains
    top = answer.rows[-1]
    difference, test = cited.difference, cited.test
    digits = _digits(difference)
    return (
        f"{_images(gains, top.volume)} images: {points(top.gain, True, digits)} points at "
        f"{_labels_text(gains)}; {_images(gains, cited.volume)}: "
        f"{points(cited.gain, True, digits)}, shortfall {points(difference.mean, True, digits)} "
        f"points, {_interval(difference, digits)}, one-sided sign-flip p = {_p(test.p_value)} "
        f"over {_folds_word(answer.units)}"
    )


def _folds_word(units: int) -> str:
    return f"{units} fold{'s' if units != 1 else ''}"


def _folds(answer: VolumeAnswer) -> str:
    left = answer.gains.left_out
    text = _folds_word(answer.units)
    if left:
        listed = ", ".join(str(fold) for fold in left)
        text += f" (fold{'s' if len(left) > 1 else ''} {listed} left out: runs missing)"
    return text


def table_rows(answer: VolumeAnswer) -> list[dict[str, str]]:
    """One row per volume, ascending, as ``COLUMNS`` display strings."""
    rows = []
    for row in answer.rows:
        difference, test = row.difference, row.test
        rows.append(
            {
                "unlabelled share": f"{row.volume:g}",
                "unlabelled images": count(answer.gains.n_unlabeled[row.volume]),
                "pretext updates": _updates_cell(answer.compute, row.volume),
                "gain, fold mean (pp)": points(row.gain, signed=True),
                "shortfall vs largest (pp)": ""
                if difference is None
                else points(difference.mean, True),
                "95% CI (pp)": "" if difference is None else _bracket(difference, 2),
                "one-sided sign-flip p": "" if test is None else _p(test.p_value),
                "verdict": _verdict_cell(row),
            }
        )
    return rows


def answer_text(answer: VolumeAnswer) -> str:
    """The section's one-line answer, for a reader who comes to the table first."""
    gains = answer.gains
    if not gains.folds:
        return "Smallest sufficient volume: not known yet (no fold has every run)."
    if answer.sufficient is None:
        return (
            f"Smallest sufficient volume: not determined; {_folds_word(answer.units)} cannot "
            f"give a one-sided p below 1/2^{answer.units} = {answer.floor:.3g}."
        )
    images = _images(gains, answer.sufficient)
    if answer.sufficient == gains.volumes[-1]:
        below = _images(gains, gains.volumes[-2])
        return (
            f"Smallest sufficient volume: the largest, {images} images; the next largest, "
            f"{below} images, is already significantly below it."
        )
    return (
        f"Smallest sufficient volume: {images} unlabelled images (a share of "
        f"{answer.sufficient:g} of the pool); it and every volume above it are not "
        f"significantly below the largest."
    )


def doubling_text(answer: VolumeAnswer) -> str:
    """The per-doubling line of the section, with the per-fraction slopes (descriptive)."""
    estimate = answer.doubling.estimate
    per_fraction = "; ".join(
        f"{fraction:g} ({count(answer.gains.labels.get(fraction))} labels): "
        f"{points(slope.estimate.mean, True)} [{points(slope.estimate.ci_low, True)}, "
        f"{points(slope.estimate.ci_high, True)}]"
        for fraction, slope in answer.per_fraction.items()
    )
    return (
        f"Gain per doubling of the unlabelled images: {points(estimate.mean, True)} points, "
        f"95% t-interval over {estimate.n_pairs} folds {_bracket(estimate, 2)}, one-sample "
        f"t-test p = {p_value(estimate.p_value)}. Per label fraction (descriptive): "
        f"{per_fraction or 'none'}."
    )


def method_text(answer: VolumeAnswer) -> str:
    """How the section's numbers were computed, so the table reads on its own."""
    gains = answer.gains
    fractions = ", ".join(f"{fraction:g}" for fraction in gains.fractions) or "none"
    left = (
        f" Left out for missing runs: fold{'s' if len(gains.left_out) > 1 else ''} "
        + ", ".join(str(fold) for fold in gains.left_out)
        + "."
        if gains.left_out
        else ""
    )
    floor = (
        ""
        if answer.can_reach
        else f" With {answer.units} folds the one-sided exact p cannot go below "
        f"1/2^{answer.units} = {answer.floor:.3g}, so no volume can test as below the largest."
    )
    return (
        f"Folds are the independent units (a fold has its own labelled subset, seeds and one "
        f"backbone per volume): {answer.units} folds have every run needed.{left} A fold's gain "
        f"at a volume is ssl - scratch averaged over the pooled label fractions ({fractions}); "
        f"its shortfall is the largest volume's gain minus that volume's, in which scratch "
        f"cancels. Each smaller volume's shortfall gets a one-sided sign-flip test over folds "
        f"(H1: the largest volume gains more; exact up to {EXACT_SIGN_FLIPS_UP_TO} folds) and "
        f"a 95% paired t-interval. Going down from the largest volume, the smallest sufficient "
        f"volume is the smallest one that, with every volume above it, is not significantly "
        f"below the largest (one-sided p at least {answer.alpha:g}); not significantly below "
        f"is not the same as equal, and the interval says how much smaller the gain could "
        f"be.{floor} The gain per doubling is each fold's least-squares slope of its gain "
        f"against log2(unlabelled images), averaged over folds."
    )


def section(answer: VolumeAnswer | None) -> dict | None:
    """The report's "How much unlabelled data" section as display strings (None: no volumes)."""
    if answer is None:
        return None
    return {
        "sentence": sentence(answer),
        "answer": answer_text(answer),
        "method": method_text(answer),
        "columns": list(COLUMNS),
        "rows": table_rows(answer),
        "doubling": doubling_text(answer),
    }


def _verdict_cell(row: Shortfall) -> str:
    if row.test is None:
        return "reference (largest)"
    return "below" if row.below else "not significantly below"


def _updates_cell(compute: Compute, share: float) -> str:
    configured = compute.updates.get(share, ())
    if configured:
        return " / ".join(count(value) for value in configured)
    recorded = compute.recorded.get(share, ())
    if recorded:
        return " / ".join(count(value) for value in recorded) + " (recorded; same epochs)"
    return "not recorded (same epochs)"


def _images(gains: FoldGains, share: float) -> str:
    images = gains.n_unlabeled.get(share, math.nan)
    return count(images) if finite(images) else f"{share:g} of the pool's"


def _labels_text(gains: FoldGains) -> str:
    """``60-300 labels``: the labelled images of the pooled fractions, or the fractions."""
    values = [value for value in gains.labels.values() if finite(value)]
    if len(values) < len(gains.fractions) or not values:
        listed = ", ".join(f"{fraction:g}" for fraction in gains.fractions)
        return f"label fraction{'s' if len(gains.fractions) > 1 else ''} {listed}"
    low, high = min(values), max(values)
    shown = count(low) if round(low) == round(high) else f"{count(low)}-{count(high)}"
    return f"{shown} labels"


def _digits(difference: PairedDifference) -> int:
    """One decimal of a point, none where the interval is wider than ``COARSE_HALF_WIDTH``."""
    half = (difference.ci_high - difference.ci_low) / 2
    return 0 if finite(half) and half >= COARSE_HALF_WIDTH else 1


def _interval(difference: PairedDifference, digits: int) -> str:
    if not finite(difference.ci_low):
        return "no interval with one fold"
    return f"{difference.confidence:.0%} CI {_bracket(difference, digits)}"


def _bracket(difference: PairedDifference, digits: int) -> str:
    if not finite(difference.ci_low):
        return "n/a"
    return (
        f"[{points(difference.ci_low, True, digits)}, {points(difference.ci_high, True, digits)}]"
    )


def _p(value: float, digits: int = 3) -> str:
    """Exact sign-flip p are multiples of 1/2^folds: three digits keep 1/16 = 0.0625 apart
    from values below it; two do for a t-test's p."""
    return f"{value:.{digits}g}" if finite(value) else "n/a"
