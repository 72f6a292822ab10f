"""Which classes gain most from ssl: per-class test accuracy, ssl - scratch paired by fold,
from the per-class accuracies every run records."""

from __future__ import annotations

import math

import numpy as np

from sslexp.report.collect import SweepRun
from sslexp.report.comparison import unlabeled_fraction


def per_class_gains(runs: list[SweepRun], volume: float | None = None
                    ) -> tuple[list[float], dict[str, dict[float, float]]]:
    """(label fractions, class -> fraction -> mean over paired folds of ssl - scratch).

    ``volume``: only ssl runs pretrained on this unlabelled share (as the comparison).
    """
    accuracies: dict[tuple[float, str, int], dict[str, float]] = {}
    for run in sorted(runs, key=lambda run: (run.finished_at, run.run_id)):
        if not run.is_usable or run.fold is None:
            continue
        if volume is not None and run.method == "ssl" and not math.isclose(
                unlabeled_fraction(run), volume):
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
                    float(value) - float(scratch[name]))
    fractions = sorted({fraction for by_fraction in gains.values() for fraction in by_fraction})
    means = {name: {fraction: float(np.mean(values)) for fraction, values in by_fraction.items()}
             for name, by_fraction in gains.items()}
    return fractions, means


def gain_rows(fractions: list[float], gains: dict[str, dict[float, float]]) -> list[dict]:
    """Display rows, the classes that gain most (averaged over fractions) first."""
    def average(name):
        return float(np.mean(list(gains[name].values())))

    rows = []
    for name in sorted(gains, key=average, reverse=True):
        row = {"class": name}
        for fraction in fractions:
            value = gains[name].get(fraction)
            row[f"p={fraction:g}"] = "n/a" if value is None else f"{100 * value:+.1f}"
        row["mean"] = f"{100 * average(name):+.1f}"
        rows.append(row)
    return rows


def gain_columns(fractions: list[float]) -> list[str]:
    return ["class", *[f"p={fraction:g}" for fraction in fractions], "mean"]
