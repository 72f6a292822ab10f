"""The report's charts as matplotlib figures (no pyplot state) and PNG bytes."""

from __future__ import annotations

import io
import math

import matplotlib
import numpy as np
from matplotlib import ticker
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sslexp.report.collect import PretrainRun
from sslexp.report.comparison import METHODS, Comparison, VolumeRow
from sslexp.report.format import number, percent_value
from sslexp.report.stats import MIN_PAIRS, PairedDifference

METHOD_COLORS = {"ssl": "#1f77b4", "scratch": "#d62728"}
MAX_FOLDS_SHOWN = 5  # with more folds the individual points only clutter the plot
DIFFERENCE_COLOR = "#2ca02c"
# an interval may reach this many times the spread of the means (at least MIN_WINDOW points)
# beyond them before it is cut at the edge of the plot with a labelled arrow
WINDOW_SPREADS = 1.0
MIN_WINDOW = 2.0
UNLABELED = "unlabeled_fraction"  # the pretext setting the unlabelled-volume study varies


def accuracy_vs_labels(comparison: Comparison) -> Figure:
    """Test accuracy against labels (log x): fold mean, ±1 std band and min-max whiskers."""
    figure = Figure(figsize=(6.4, 4.2))
    figure.subplots_adjust(left=0.11, right=0.97, bottom=0.13, top=0.92)
    axis = figure.subplots()
    use_labels = _uses_labels(comparison)
    for method in METHODS:
        points = [
            (_x(row, method, use_labels), row.accuracy[method])
            for row in comparison.rows
            if row.accuracy[method].n
        ]
        if not points:
            continue
        x = np.array([p[0] for p in points])
        mean = 100 * np.array([p[1].mean for p in points])
        std = 100 * np.nan_to_num(np.array([p[1].std for p in points]))
        low = 100 * np.array([p[1].min for p in points])
        high = 100 * np.array([p[1].max for p in points])
        color = METHOD_COLORS[method]
        axis.fill_between(x, mean - std, mean + std, color=color, alpha=0.18, linewidth=0)
        axis.errorbar(
            x,
            mean,
            yerr=[mean - low, high - mean],
            color=color,
            marker="o",
            capsize=3,
            linewidth=1.6,
            label=f"{method} (mean, ±1 std band, min-max)",
        )
        folds = [row.accuracy_by_fold[method] for row in comparison.rows if row.accuracy[method].n]
        if max(len(by_fold) for by_fold in folds) <= MAX_FOLDS_SHOWN:
            # each fold's own accuracy, nudged sideways so the two methods do not hide each other
            nudge = 1.04 if method == "ssl" else 1 / 1.04
            fold_x = [x_value * nudge for x_value, by_fold in zip(x, folds) for _ in by_fold]
            fold_y = [100 * value for by_fold in folds for value in by_fold.values()]
            axis.scatter(
                fold_x,
                fold_y,
                s=14,
                color=color,
                alpha=0.55,
                marker="x",
                linewidths=1,
                label=f"{method} folds",
            )
    _label_axis(
        axis,
        [
            _x(row, method, use_labels)
            for row in comparison.rows
            for method in METHODS
            if row.accuracy[method].n
        ],
    )
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
        x = [_x(row, "ssl", use_labels) for row in rows]
        draw_differences(
            axis, x, [row.difference for row in rows], DIFFERENCE_COLOR, "mean paired difference"
        )
        axis.legend(fontsize=8)
        _label_axis(axis, x)
    axis.axhline(0, color="gray", linewidth=1)
    axis.set_xlabel(_x_label(use_labels))
    axis.set_ylabel("ssl - scratch (points)")
    axis.set_title("Paired difference over folds")
    axis.grid(True, which="both", alpha=0.3)
    return figure


def draw_differences(
    axis, x, differences: list[PairedDifference], color: str, label: str
) -> tuple[float, float]:
    """Means of paired differences, with their t-intervals only where there are at least
    ``MIN_PAIRS`` pairs (fewer: a hollow marker labelled "n = 2", no bar). An interval
    that would flatten the others (beyond ``WINDOW_SPREADS`` times the spread of the
    means) is cut at the plot's edge, where an arrow gives its true end. Sets and returns
    the y-limits this line needs; a plot of several lines sets the union of theirs."""
    x = np.asarray(x, dtype=float)
    mean = 100 * np.array([difference.mean for difference in differences])
    low = 100 * np.array([difference.ci_low for difference in differences])
    high = 100 * np.array([difference.ci_high for difference in differences])
    pairs = np.array([difference.n_pairs for difference in differences])
    supported = np.isfinite(low) & (pairs >= MIN_PAIRS)
    centre = np.append(mean, 0.0)
    spread = max(float(centre.max() - centre.min()), MIN_WINDOW)
    floor = centre.min() - WINDOW_SPREADS * spread
    ceiling = centre.max() + WINDOW_SPREADS * spread
    shown_low, shown_high = np.maximum(low, floor), np.minimum(high, ceiling)
    axis.plot(x, mean, "-", color=color, linewidth=1.2, alpha=0.6)
    if supported.any():
        axis.errorbar(
            x[supported],
            mean[supported],
            yerr=[(mean - shown_low)[supported], (shown_high - mean)[supported]],
            color=color,
            marker="o",
            capsize=3,
            linestyle="none",
            label=f"{label}, 95% t-interval ({MIN_PAIRS}+ pairs)",
        )
    if (~supported).any():
        axis.plot(
            x[~supported],
            mean[~supported],
            "o",
            markerfacecolor="white",
            color=color,
            label=f"{label}, fewer than {MIN_PAIRS} pairs: no interval drawn",
        )
        last = x.max()
        for x_value, y_value, count in zip(x[~supported], mean[~supported], pairs[~supported]):
            at_right = x_value == last  # the label goes inwards, inside the axes
            axis.annotate(
                f"n = {count}",
                (x_value, y_value),
                xytext=(-5 if at_right else 5, 5),
                textcoords="offset points",
                fontsize=8,
                color=color,
                ha="right" if at_right else "left",
            )
    for index in np.flatnonzero(supported):
        for true_end, shown_end, direction in (
            (high[index], shown_high[index], 1),
            (low[index], shown_low[index], -1),
        ):
            if true_end != shown_end:
                axis.annotate(
                    f"to {true_end:+.0f}",
                    (x[index], shown_end),
                    xytext=(0, 14 * direction),
                    textcoords="offset points",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color=color,
                    arrowprops={"arrowstyle": "<-", "color": color},
                )
    drawn = np.concatenate([centre, shown_low[supported], shown_high[supported]])
    margin = 0.12 * max(float(drawn.max() - drawn.min()), MIN_WINDOW)
    limits = (float(drawn.min() - margin), float(drawn.max() + margin))
    axis.set_ylim(*limits)
    return limits


def gain_vs_unlabeled(rows: list[VolumeRow]) -> Figure:
    """ssl - scratch against the number of unlabelled images the backbone was pretrained on,
    one line per label fraction, with 95% t-intervals where there are enough pairs."""
    figure = Figure(figsize=(6.4, 3.8))
    figure.subplots_adjust(left=0.12, right=0.97, bottom=0.15, top=0.9)
    axis = figure.subplots()
    fractions = sorted({row.label_fraction for row in rows})
    colors = [f"C{index % 10}" for index in range(len(fractions))]
    limits = []
    for index, (fraction, color) in enumerate(zip(fractions, colors)):
        line = sorted(
            (row for row in rows if row.label_fraction == fraction), key=lambda row: row.volume
        )
        x = np.array(
            [row.n_unlabeled if math.isfinite(row.n_unlabeled) else row.volume for row in line]
        ) * (1 + 0.02 * index)  # side by side, not on top
        limits.append(
            draw_differences(
                axis, x, [row.difference for row in line], color, f"label fraction {fraction:g}"
            )
        )
    if limits:  # every line whole, not only the last one drawn
        axis.set_ylim(min(low for low, _ in limits), max(high for _, high in limits))
    axis.axhline(0, color="gray", linewidth=1)
    known = all(math.isfinite(row.n_unlabeled) for row in rows)
    _label_axis(axis, [row.n_unlabeled if known else row.volume for row in rows])
    axis.set_xlabel(
        "unlabelled images used for pretraining (log scale)"
        if known
        else "unlabelled share of the pool (log scale)"
    )
    axis.set_ylabel("ssl - scratch (points)")
    axis.set_title("Gain against unlabelled images")
    axis.grid(True, which="both", alpha=0.3)
    if rows:
        axis.legend(fontsize=7)
    return figure


def pretext_curves(pretrains: list[PretrainRun]) -> Figure | None:
    """Rotation accuracy and loss per epoch of each pretrain run the ssl runs used: one
    colour per backbone (named by what differs between them), solid for training, dashed
    for held-out images, dash-dotted for the k-NN probe of the features, the legend beside
    the axes so that no curve hides under it."""
    with_history = [record for record in pretrains if record.history]
    if not with_history:
        return None
    names = backbone_labels(with_history)
    legend_width = 0.2 if len(with_history) > 1 else 0.0
    figure = Figure(figsize=(9.6 + 2.4 * bool(legend_width), 3.6))
    figure.subplots_adjust(left=0.07, right=0.98 - legend_width, bottom=0.15, top=0.9, wspace=0.25)
    accuracy_axis, loss_axis = figure.subplots(1, 2)
    for index, record in enumerate(with_history):
        color = _backbone_color(index, len(with_history))
        epochs = [epoch.get("epoch", position + 1) for position, epoch in enumerate(record.history)]
        for axis, keys, convert in (
            (accuracy_axis, ("accuracy", "val_accuracy", "probe_accuracy"), percent_value),
            (loss_axis, ("loss", "val_loss"), number),
        ):
            for key, style in zip(keys, ("-", "--", "-.")):
                values = [convert(epoch.get(key)) for epoch in record.history]
                if any(math.isfinite(value) for value in values):
                    axis.plot(epochs, values, style, marker=".", color=color, linewidth=1.3)
    accuracy_axis.axhline(25, color="gray", linewidth=1, linestyle=":")
    accuracy_axis.set(
        xlabel="epoch",
        ylabel="rotation / k-NN probe accuracy (%)",
        title="Pretext accuracy and k-NN probe",
    )
    loss_axis.set(xlabel="epoch", ylabel="loss", title="Pretext loss")
    for axis in (accuracy_axis, loss_axis):
        axis.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        axis.grid(True, alpha=0.3)
    style_key = [
        Line2D([], [], color="black", linestyle="-", label="training images"),
        Line2D([], [], color="black", linestyle="--", label="held-out images"),
        *(
            [Line2D([], [], color="black", linestyle="-.", label="k-NN probe")]
            if any("probe_accuracy" in epoch for record in with_history for epoch in record.history)
            else []
        ),
        Line2D([], [], color="gray", linestyle=":", label="chance (25%)"),
    ]
    if legend_width:
        backbones = [
            Line2D(
                [], [], color=_backbone_color(index, len(with_history)), linewidth=2.5, label=name
            )
            for index, name in enumerate(names)
        ]
        figure.legend(
            handles=[*style_key, *backbones],
            loc="center left",
            bbox_to_anchor=(1.0 - legend_width + 0.005, 0.52),
            fontsize=7.5,
            frameon=False,
            title="backbone (pretrained on)",
            title_fontsize=8,
        )
    else:
        accuracy_axis.legend(handles=style_key, fontsize=7, loc="lower right")
        figure.suptitle(names[0], fontsize=8, y=0.995)
    return figure


def backbone_labels(pretrains: list[PretrainRun]) -> list[str]:
    """Each backbone named by the settings that differ between them (unlabelled images,
    pretext seed...), in words; the cache key when there is one or nothing differs."""
    settings = [_flat(record.record.config if record.record else {}) for record in pretrains]
    images = [
        ((record.record.data if record.record else None) or {}).get("n_pretext_images")
        for record in pretrains
    ]
    differing = [
        name
        for name in sorted(
            {name for found in settings for name in found},
            key=lambda name: (UNLABELED not in name, name),
        )
        if len({repr(found.get(name)) for found in settings}) > 1
    ]
    if len(pretrains) < 2 or not differing:
        return [record.name for record in pretrains]
    labels = []
    for found, count in zip(settings, images):
        parts = []
        for name in differing:
            value = found.get(name)
            if name.endswith(UNLABELED) and count is not None:
                parts.append(f"{number(count):,.0f} images")
            elif name.endswith(UNLABELED):
                parts.append(
                    f"{value:g} of the pool"
                    if isinstance(value, float)
                    else f"unlabelled share {value}"
                )
            else:
                parts.append(f"{name.rsplit('.', 1)[-1].replace('_', ' ')} {_shown(value)}")
        labels.append(", ".join(parts))
    return labels


def _flat(config: dict, prefix: str = "") -> dict:
    flat = {}
    for name, value in (config or {}).items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat


def _shown(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _backbone_color(index: int, count: int):
    """Up to 10 backbones: tab10's distinct colours; more: evenly spaced on a wheel."""
    if count <= 10:
        return f"C{index}"
    return matplotlib.colormaps["hsv"](index / count)


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
        axis.set_xticks(
            ticks, labels=[f"{tick:,.0f}" if tick >= 1 else f"{tick:g}" for tick in ticks]
        )
        axis.xaxis.set_minor_formatter(ticker.NullFormatter())


def _uses_labels(comparison: Comparison) -> bool:
    """Plot against labels when every plotted point knows its labels, else against the fraction."""
    return all(
        math.isfinite(row.labels_by_method[method])
        for row in comparison.rows
        for method in METHODS
        if row.accuracy[method].n
    )


def _x(row, method: str, use_labels: bool) -> float:
    return row.labels_by_method[method] if use_labels else row.label_fraction


def _x_label(use_labels: bool) -> str:
    return (
        "labelled examples, train + validation (log scale)"
        if use_labels
        else "label fraction (log scale)"
    )
