"""The report's charts as matplotlib figures (no pyplot state) and PNG bytes."""

from __future__ import annotations

import io
import math

import numpy as np
from matplotlib import ticker
from matplotlib.figure import Figure

from sslexp.report.collect import PretrainRun
from sslexp.report.comparison import METHODS, Comparison, VolumeRow

METHOD_COLORS = {"ssl": "#1f77b4", "scratch": "#d62728"}
MAX_FOLDS_SHOWN = 5  # with more folds the individual points only clutter the plot


def accuracy_vs_labels(comparison: Comparison) -> Figure:
    """Test accuracy against labels (log x): fold mean, ±1 std band and min-max whiskers."""
    figure = Figure(figsize=(6.4, 4.2))
    figure.subplots_adjust(left=0.11, right=0.97, bottom=0.13, top=0.92)
    axis = figure.subplots()
    use_labels = _uses_labels(comparison)
    for method in METHODS:
        points = [(_x(row, method, use_labels), row.accuracy[method]) for row in comparison.rows
                  if row.accuracy[method].n]
        if not points:
            continue
        x = np.array([p[0] for p in points])
        mean = 100 * np.array([p[1].mean for p in points])
        std = 100 * np.nan_to_num(np.array([p[1].std for p in points]))
        low = 100 * np.array([p[1].min for p in points])
        high = 100 * np.array([p[1].max for p in points])
        color = METHOD_COLORS[method]
        axis.fill_between(x, mean - std, mean + std, color=color, alpha=0.18, linewidth=0)
        axis.errorbar(x, mean, yerr=[mean - low, high - mean], color=color, marker="o",
                      capsize=3, linewidth=1.6, label=f"{method} (mean, ±1 std band, min-max)")
        folds = [row.accuracy_by_fold[method] for row in comparison.rows
                 if row.accuracy[method].n]
        if max(len(by_fold) for by_fold in folds) <= MAX_FOLDS_SHOWN:
            # each fold's own accuracy, nudged sideways so the two methods do not hide each other
            nudge = 1.04 if method == "ssl" else 1 / 1.04
            fold_x = [x_value * nudge for x_value, by_fold in zip(x, folds) for _ in by_fold]
            fold_y = [100 * value for by_fold in folds for value in by_fold.values()]
            axis.scatter(fold_x, fold_y, s=14, color=color, alpha=0.55, marker="x",
                         linewidths=1, label=f"{method} folds")
    _label_axis(axis, [_x(row, method, use_labels) for row in comparison.rows for method in METHODS
                       if row.accuracy[method].n])
    axis.set_xlabel(_x_label(use_labels))
    axis.set_ylabel("test accuracy (%)")
    axis.set_title("Test accuracy against labels")
    axis.grid(True, which="both", alpha=0.3)
    if axis.has_data():
        axis.legend(fontsize=8)
    return figure


def difference_vs_labels(comparison: Comparison) -> Figure:
    """Paired ssl - scratch difference with its 95% t-interval, in accuracy points."""
    figure = Figure(figsize=(6.4, 3.6))
    figure.subplots_adjust(left=0.12, right=0.97, bottom=0.15, top=0.9)
    axis = figure.subplots()
    rows = [row for row in comparison.rows if row.difference.n_pairs]
    use_labels = _uses_labels(comparison)
    if rows:
        x = np.array([_x(row, "ssl", use_labels) for row in rows])
        mean = 100 * np.array([row.difference.mean for row in rows])
        low = 100 * np.array([row.difference.ci_low for row in rows])
        high = 100 * np.array([row.difference.ci_high for row in rows])
        with_interval = np.isfinite(low)
        axis.errorbar(x[with_interval], mean[with_interval],
                      yerr=[(mean - low)[with_interval], (high - mean)[with_interval]],
                      color="#2ca02c", marker="o", capsize=3, linestyle="-",
                      label="mean paired difference, 95% t-interval")
        if (~with_interval).any():
            axis.plot(x[~with_interval], mean[~with_interval], "x", color="#2ca02c",
                      label="fewer than 2 pairs (no interval)")
        axis.legend(fontsize=8)
        _label_axis(axis, x)
    axis.axhline(0, color="gray", linewidth=1)
    axis.set_xlabel(_x_label(use_labels))
    axis.set_ylabel("ssl - scratch (points)")
    axis.set_title("Paired difference over folds")
    axis.grid(True, which="both", alpha=0.3)
    return figure


def gain_vs_unlabeled(rows: list[VolumeRow]) -> Figure:
    """ssl - scratch against the number of unlabelled images the backbone was pretrained on,
    one line per label fraction, with 95% t-intervals."""
    figure = Figure(figsize=(6.4, 3.8))
    figure.subplots_adjust(left=0.12, right=0.97, bottom=0.15, top=0.9)
    axis = figure.subplots()
    fractions = sorted({row.label_fraction for row in rows})
    for index, fraction in enumerate(fractions):
        line = sorted((row for row in rows if row.label_fraction == fraction),
                      key=lambda row: row.volume)
        x = np.array([row.n_unlabeled if math.isfinite(row.n_unlabeled) else row.volume
                      for row in line]) * (1 + 0.02 * index)  # side by side, not on top
        mean = 100 * np.array([row.difference.mean for row in line])
        low = 100 * np.array([row.difference.ci_low for row in line])
        high = 100 * np.array([row.difference.ci_high for row in line])
        errors = np.nan_to_num([mean - low, high - mean])
        axis.errorbar(x, mean, yerr=errors, marker="o", capsize=3,
                      label=f"label fraction {fraction:g}")
    axis.axhline(0, color="gray", linewidth=1)
    known = all(math.isfinite(row.n_unlabeled) for row in rows)
    _label_axis(axis, [row.n_unlabeled if known else row.volume for row in rows])
    axis.set_xlabel("unlabelled images used for pretraining (log scale)" if known
                    else "unlabelled share of the pool (log scale)")
    axis.set_ylabel("ssl - scratch (points)")
    axis.set_title("Gain against unlabelled images")
    axis.grid(True, which="both", alpha=0.3)
    if rows:
        axis.legend(fontsize=8)
    return figure


def pretext_curves(pretrains: list[PretrainRun]) -> Figure | None:
    """Rotation accuracy and loss per epoch of each pretrain run the ssl runs used."""
    with_history = [record for record in pretrains if record.history]
    if not with_history:
        return None
    figure = Figure(figsize=(9.6, 3.6))
    figure.subplots_adjust(left=0.07, right=0.98, bottom=0.15, top=0.9, wspace=0.25)
    accuracy_axis, loss_axis = figure.subplots(1, 2)
    for record in with_history:
        epochs = [epoch.get("epoch", index + 1) for index, epoch in enumerate(record.history)]
        label = record.name
        for key, style in (("accuracy", "-"), ("val_accuracy", "--"), ("probe_accuracy", ":")):
            values = [_percent(epoch.get(key)) for epoch in record.history]
            if any(math.isfinite(value) for value in values):
                accuracy_axis.plot(epochs, values, style, marker=".", label=f"{label} {key}")
        for key, style in (("loss", "-"), ("val_loss", "--")):
            values = [_number(epoch.get(key)) for epoch in record.history]
            if any(math.isfinite(value) for value in values):
                loss_axis.plot(epochs, values, style, marker=".", label=f"{label} {key}")
    accuracy_axis.axhline(25, color="gray", linewidth=1, linestyle=":", label="chance (25%)")
    accuracy_axis.set(xlabel="epoch", ylabel="rotation / probe accuracy (%)",
                      title="Pretext accuracy and k-NN probe")
    loss_axis.set(xlabel="epoch", ylabel="loss", title="Pretext loss")
    for axis in (accuracy_axis, loss_axis):
        axis.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=7)
    return figure


def to_png(figure: Figure, dpi: int = 110) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def to_svg(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg")
    return buffer.getvalue()


def _label_axis(axis, values) -> None:
    """Log x axis with a plain-number tick at each measured point (50, 150, 500 ...)."""
    axis.set_xscale("log")
    ticks = sorted({float(value) for value in values if math.isfinite(value)})
    if ticks:
        axis.set_xticks(ticks, labels=[f"{tick:,.0f}" if tick >= 1 else f"{tick:g}"
                                       for tick in ticks])
        axis.xaxis.set_minor_formatter(ticker.NullFormatter())


def _uses_labels(comparison: Comparison) -> bool:
    """Plot against labels when every plotted point knows its labels, else against the fraction."""
    return all(math.isfinite(row.labels_by_method[method]) for row in comparison.rows
               for method in METHODS if row.accuracy[method].n)


def _x(row, method: str, use_labels: bool) -> float:
    return row.labels_by_method[method] if use_labels else row.label_fraction


def _x_label(use_labels: bool) -> str:
    return ("labelled examples, train + validation (log scale)" if use_labels
            else "label fraction (log scale)")


def _percent(value) -> float:
    number = _number(value)
    return 100 * number if math.isfinite(number) else number


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan
