"""Which classes gain most from ssl: per-class test accuracy, ssl - scratch paired by fold,
from the per-class accuracies every run records."""

from __future__ import annotations

import math

import numpy as np

from sslexp.report.collect import SweepRun
from sslexp.report.comparison import unlabeled_fraction
from sslexp.report.format import points


def per_class_gains(
    runs: list[SweepRun], volume: float | None = None
) -> tuple[list[float], dict[str, dict[float, list[float]]]]:
    """(label fractions, class -> fraction -> ssl - scratch of each paired fold).

    ``volume``: only ssl runs pretrained on this unlabelled share (as the comparison).
    """
    accuracies: dict[tuple[float, str, int], dict[str, float]] = {}
    for run in sorted(runs, key=lambda run: (run.finished_at, run.run_id)):
        if not run.is_usable or run.fold is None:
            continue
        if (
            volume is not None
            and run.method == "ssl"
            and not math.isclose(unlabeled_fraction(run), volume)
        ):
            continue
        per_class = run.record.test_view.per_class_accuracy
        if per_class:
            accuracies[(round(run.label_fraction, 12), run.method, run.fold)] = per_class
    gains: dict[str, dict[float, list[float]]] = {}
    for (fraction, method, fold), ssl in accuracies.items():
        scratch = accuracies.get((fraction, "scratch", fold))
        if method != "ssl" or scratch is None:
            continue
        for name, value in ssl.items():
            if name in scratch:
                gains.setdefault(str(name), {}).setdefault(fraction, []).append(
                    float(value) - float(scratch[name])
                )
    fractions = sorted({fraction for by_fraction in gains.values() for fraction in by_fraction})
    return fractions, gains


def gain_rows(fractions: list[float], gains: dict[str, dict[float, list[float]]]) -> list[dict]:
    """Display rows, one per class in the order the classes were recorded (a ranking would
    read more into a few test images per class than they hold). Each cell: the mean gain in
    points and how many paired folds agree on its sign ("+3.1, 4/5 folds")."""
    rows = []
    for name in gains:
        row = {"class": name}
        for fraction in fractions:
            values = gains[name].get(fraction)
            row[f"p={fraction:g}"] = "n/a" if not values else _cell(values)
        every = [value for values in gains[name].values() for value in values]
        row["all fractions"] = _cell(every)
        rows.append(row)
    return rows


def gain_columns(fractions: list[float]) -> list[str]:
    return ["class", *[f"p={fraction:g}" for fraction in fractions], "all fractions"]


def _cell(values: list[float]) -> str:
    """Mean gain and sign agreement: "+3.1 (4/5 folds)" counts the folds whose gain has the
    mean's sign."""
    mean = float(np.mean(values))
    agreeing = sum(1 for value in values if value * mean > 0)
    return f"{points(mean, signed=True, digits=1)} ({agreeing}/{len(values)} folds)"
