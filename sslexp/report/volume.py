"""How much unlabelled data pretraining needs: the answer a volume sweep is for.

A volume sweep pretrains ssl backbones on several shares of the unlabelled pool
(``pretext_unlabeled_fraction``) and pairs every share's ssl runs with the same
scratch runs. Folds are the independent units: a fold has its own labelled subset,
its own seeds and one backbone per volume. A fold's gain at a volume is ssl - scratch
averaged over the pooled label fractions; only folds with every run behind those
gains count, so that every number of the answer stands on the same folds.

Two statements answer the question, each with an interval over folds:

- the smallest sufficient volume: each smaller volume's shortfall (the largest
  volume's gain minus its own; scratch cancels) gets a one-sided exact sign-flip test
  over folds. Going down from the largest volume, the answer is the smallest volume
  such that it and every volume above it are not significantly below the largest.
- the gain per doubling: per fold, the least-squares slope of the gain against
  log2(unlabelled images), then the mean slope with a t-interval over folds.

Whether the volumes had the same pretraining compute (``pretext_updates``) or only
the same epochs (then a smaller volume also got fewer updates) is part of the answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sslexp.report.collect import PretrainRun, SweepRun
from sslexp.report.comparison import unlabeled_fraction, volumes
from sslexp.report.format import count, finite, p_value, points
from sslexp.report.stats import (
    EXACT_SIGN_FLIPS_UP_TO,
    PairedDifference,
    SignFlipTest,
    can_reach,
    exact_p_floor,
    paired_difference,
    sign_flip_test,
)
from sslexp.report.verdict import ALPHA
from sslexp.runs.record import as_float

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


@dataclass(frozen=True)
class FoldGains:
    """ssl - scratch per fold on the folds that have every run the answer needs.

    ``fractions`` are the pooled label fractions: those with ssl runs at every volume and
    scratch runs. ``left_out`` are folds with some ssl run there but not every one.
    """

    volumes: list[float]  # unlabelled shares, ascending
    fractions: list[float]
    folds: list[int]
    left_out: list[int]
    by_fraction: dict[float, dict[float, dict[int, float]]]  # fraction -> share -> fold -> gain
    labels: dict[float, float]  # fraction -> mean labelled images of its runs
    n_unlabeled: dict[float, float]  # share -> images (NaN when no record gives the pool)

    def by_volume(self, share: float) -> dict[int, float]:
        """A fold's gain at ``share``: the mean over the pooled fractions, so a fold is one unit."""
        return {
            fold: float(np.mean([self.by_fraction[f][share][fold] for f in self.fractions]))
            for fold in self.folds
        }


@dataclass(frozen=True)
class Shortfall:
    """How far one volume's gain falls below the largest volume's, over folds."""

    volume: float
    gain: float  # mean over folds of the fold gains
    difference: PairedDifference | None  # largest - this; None for the largest itself
    test: SignFlipTest | None  # one-sided: H1 the largest volume gains more
    alpha: float = ALPHA

    @property
    def below(self) -> bool:
        return (
            self.test is not None and finite(self.test.p_value) and self.test.p_value < self.alpha
        )


@dataclass(frozen=True)
class DoublingSlope:
    """Gain per doubling of the unlabelled images: each fold's least-squares slope, and their
    mean against zero (t-interval and one-sample t p-value, as a paired difference)."""

    slopes: dict[int, float]
    estimate: PairedDifference


@dataclass(frozen=True)
class Compute:
    """What each volume's backbones got, as the distinct values among its ssl runs: the
    configured pretext updates (none: the epochs rule, so fewer images also meant fewer
    updates), the pretext epochs, and the updates their pretraining recorded."""

    updates: dict[float, tuple[float, ...]]
    epochs: dict[float, tuple[float, ...]]
    recorded: dict[float, tuple[float, ...]]

    @property
    def matched(self) -> bool:
        """The same positive update count at every volume: a gain is the data's, not the
        extra updates'."""
        values = set(self.updates.values())
        return len(values) == 1 and len(next(iter(values))) == 1

    @property
    def by_epochs(self) -> bool:
        """No volume had an update count set: every volume ran the same number of epochs."""
        return not any(self.updates.values())


@dataclass(frozen=True)
class VolumeAnswer:
    """Everything the report says about how much unlabelled data is needed."""

    gains: FoldGains
    rows: list[Shortfall]  # one per volume, ascending; the last is the largest
    # the smallest sufficient share; None when the folds (none, or too few for any one-sided
    # exact p below alpha) cannot tell
    sufficient: float | None
    doubling: DoublingSlope
    per_fraction: dict[float, DoublingSlope]  # descriptive
    compute: Compute
    alpha: float = ALPHA

    @property
    def units(self) -> int:
        return len(self.gains.folds)

    @property
    def floor(self) -> float:
        """The smallest one-sided p the folds allow: 1 / 2^folds."""
        return exact_p_floor(self.units, one_sided=True)

    @property
    def can_reach(self) -> bool:
        return can_reach(self.alpha, self.units, one_sided=True)

    def row(self, share: float) -> Shortfall:
        return next(row for row in self.rows if math.isclose(row.volume, share))


def answer_volumes(
    runs: list[SweepRun], alpha: float = ALPHA, recorded_updates: dict[str, float] | None = None
) -> VolumeAnswer | None:
    """The answer for a volume sweep's runs; None unless the unlabelled share varies.

    ``recorded_updates``: {ssl run id: pretext updates its backbone's pretraining recorded},
    the only source of the update counts when the volumes ran by epochs.
    """
    gains = fold_gains(runs)
    if gains is None:
        return None
    rows = shortfalls(gains, alpha)
    return VolumeAnswer(
        gains,
        rows,
        sufficient_volume(rows) if can_reach(alpha, len(gains.folds), one_sided=True) else None,
        doubling_slope(gains),
        {fraction: doubling_slope(gains, [fraction]) for fraction in gains.fractions},
        pretext_compute(runs, gains.volumes, recorded_updates or {}),
        alpha,
    )


def fold_gains(runs: list[SweepRun]) -> FoldGains | None:
    """ssl - scratch per (fraction, share, fold) on the complete folds; None with one share.

    A rerun of the same fold replaces the run that finished before it, as in ``compare``.
    """
    shares = volumes(runs)
    if len(shares) < 2:
        return None
    ssl, scratch = _latest_accuracies(runs)
    fractions = sorted(
        fraction
        for fraction in {key[1] for key in ssl}
        if all(any(k[:2] == (share, fraction) for k in ssl) for share in shares)
        and any(k[0] == fraction for k in scratch)
    )
    seen = sorted({fold for _, fraction, fold in ssl if fraction in fractions})
    complete = [
        fold
        for fold in seen
        if all((fraction, fold) in scratch for fraction in fractions)
        and all((share, fraction, fold) in ssl for share in shares for fraction in fractions)
    ]
    by_fraction = {
        fraction: {
            share: {fold: ssl[share, fraction, fold] - scratch[fraction, fold] for fold in complete}
            for share in shares
        }
        for fraction in fractions
    }
    return FoldGains(
        shares,
        fractions,
        complete,
        [fold for fold in seen if fold not in complete],
        by_fraction,
        _labels(runs, fractions, complete),
        _n_unlabeled(runs, shares),
    )


def shortfalls(gains: FoldGains, alpha: float = ALPHA) -> list[Shortfall]:
    """Each volume against the largest, over the same folds: a paired t-interval of the
    shortfall and a one-sided exact sign-flip test (H1: the largest volume gains more)."""
    largest = gains.by_volume(gains.volumes[-1])
    rows = []
    for share in gains.volumes:
        own = gains.by_volume(share)
        mean = float(np.mean(list(own.values()))) if own else math.nan
        if share == gains.volumes[-1]:
            rows.append(Shortfall(share, mean, None, None, alpha))
            continue
        first = [largest[fold] for fold in gains.folds]
        second = [own[fold] for fold in gains.folds]
        difference = paired_difference(first, second)
        test = sign_flip_test(np.subtract(first, second), alternative="greater")
        rows.append(Shortfall(share, mean, difference, test, alpha))
    return rows


def sufficient_volume(rows: list[Shortfall]) -> float:
    """Going down from the largest volume, the last one before the first found below it:
    the smallest volume that, with every volume above it, is not significantly below."""
    answer = rows[-1].volume
    for row in reversed(rows[:-1]):
        if row.below:
            break
        answer = row.volume
    return answer


def doubling_slope(gains: FoldGains, fractions: list[float] | None = None) -> DoublingSlope:
    """Per fold, the least-squares slope of the gain (mean over ``fractions``, default the
    pooled ones) against log2 of the unlabelled share, which is log2(images) up to a constant;
    then the mean slope over folds with its t-interval and one-sample t p-value."""
    fractions = fractions or gains.fractions
    x = np.log2(gains.volumes)
    slopes = {}
    for fold in gains.folds:
        y = [
            np.mean([gains.by_fraction[f][share][fold] for f in fractions])
            for share in gains.volumes
        ]
        slopes[fold] = float(np.polyfit(x, y, 1)[0])
    values = list(slopes.values())
    return DoublingSlope(slopes, paired_difference(values, [0.0] * len(values)))


def pretext_compute(
    runs: list[SweepRun], shares: list[float], recorded_updates: dict[str, float]
) -> Compute:
    """The pretext updates and epochs each volume's ssl runs were configured with (an update
    count of 0 or none means the epochs rule), and the updates their pretraining recorded."""
    updates, epochs, recorded = {}, {}, {}
    for share in shares:
        at_share = [
            run
            for run in runs
            if run.is_usable
            and run.method == "ssl"
            and math.isclose(unlabeled_fraction(run), share)
        ]
        configured = _distinct(run.config.get("pretext_updates") for run in at_share)
        updates[share] = tuple(value for value in configured if value > 0)
        epochs[share] = _distinct(run.config.get("pretext_epochs") for run in at_share)
        recorded[share] = _distinct(recorded_updates.get(run.run_id) for run in at_share)
    return Compute(updates, epochs, recorded)


def recorded_pretext_updates(pretrains: list[PretrainRun]) -> dict[str, float]:
    """{ssl run id: the updates its backbone's pretraining recorded}, for runs whose backbone
    record says."""
    found = {}
    for pretrain in pretrains:
        training = (pretrain.record.training if pretrain.record is not None else None) or {}
        updates = as_float(training.get("updates")) if isinstance(training, dict) else None
        if updates is not None:
            found.update({run_id: updates for run_id in pretrain.run_ids})
    return found


# The answer as the report says it.


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


def _latest_accuracies(runs: list[SweepRun]):
    """{(share, fraction, fold): ssl accuracy} and {(fraction, fold): scratch accuracy},
    the latest finished run of each."""
    ssl, scratch = {}, {}
    for run in sorted(runs, key=lambda run: (run.finished_at, run.run_id)):
        if not run.is_usable or run.fold is None or run.fold < 0:
            continue
        fraction = round(run.label_fraction, 12)
        if run.method == "ssl":
            ssl[round(unlabeled_fraction(run), 12), fraction, run.fold] = run.test_accuracy
        elif run.method == "scratch":
            scratch[fraction, run.fold] = run.test_accuracy
    return ssl, scratch


def _labels(runs: list[SweepRun], fractions: list[float], folds: list[int]) -> dict[float, float]:
    """Mean labelled images per pooled fraction over the runs of the complete folds."""
    labels = {}
    for fraction in fractions:
        values = [
            run.n_labels
            for run in runs
            if run.is_usable
            and run.n_labels is not None
            and run.fold in folds
            and math.isclose(run.label_fraction, fraction)
        ]
        labels[fraction] = float(np.mean(values)) if values else math.nan
    return labels


def _n_unlabeled(runs: list[SweepRun], shares: list[float]) -> dict[float, float]:
    """Images per share of the pool, as ``compare_volumes`` counts them."""
    pools = [run.record.split_view.pool_size for run in runs if run.record is not None]
    pool = next((size for size in pools if size is not None), None)
    return {share: round(share * pool) if pool else math.nan for share in shares}


def _distinct(values) -> tuple[float, ...]:
    return tuple(sorted({value for value in map(as_float, values) if value is not None}))


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
