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
``sslexp.report.volume_text`` says it in words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sslexp.report.collect import PretrainRun, SweepRun
from sslexp.report.comparison import unlabeled_fraction, volumes
from sslexp.report.format import finite
from sslexp.report.stats import (
    PairedDifference,
    SignFlipTest,
    can_reach,
    exact_p_floor,
    paired_difference,
    sign_flip_test,
)
from sslexp.report.verdict import ALPHA
from sslexp.runs.record import as_float


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
