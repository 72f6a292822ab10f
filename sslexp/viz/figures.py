"""Matplotlib figures built from arrays (no pyplot state, so safe in any process).

Each grid of small pictures is first tiled into one RGB mosaic and drawn in a
single Axes: dozens of Axes cost seconds to lay out, one costs milliseconds.
Every function takes arrays keyed by model name, so the same code draws one
model or several side by side.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from sslexp.viz.features import ROTATION_DEGREES
from sslexp.viz.images import to_display

TILE_INCHES = 0.5
MAP_INCHES = 1.0
MIN_PANEL_INCHES = 1.8
CORRECT_RGB = (0.10, 0.50, 0.22)
WRONG_RGB = (0.81, 0.13, 0.18)
PADDING_RGB = (1.0, 1.0, 1.0)


def filters_figure(
    kernels: dict[str, np.ndarray],
    max_filters: int = 64,
    difference: tuple[str, str] | None = None,
    initial: tuple[str, np.ndarray] | None = None,
) -> Figure:
    """First-layer filters of each model as an image grid, models side by side.

    Each filter is scaled to its own range, which shows its pattern but hides
    how much two models differ; ``difference=("ssl", "scratch")`` adds a panel of
    ssl - scratch per filter on one shared scale (red above, blue below zero,
    with a colour bar). ``initial=(title, kernel)`` adds, first, the kernels a
    model started from; ``difference`` may name it (``("scratch", title)``: what
    training moved).
    """
    shown = {name: kernel[..., :max_filters] for name, kernel in kernels.items()}
    if initial is not None:
        shown = {initial[0]: initial[1][..., :max_filters], **shown}
    count = max(kernel.shape[-1] for kernel in shown.values())
    columns = math.ceil(math.sqrt(count))
    panels = list(shown.items())
    if difference is not None:
        first, second = (shown[name] for name in difference)
        panels.append((f"{difference[0]} - {difference[1]}", first - second))
    panel_inches = max(columns * TILE_INCHES, MIN_PANEL_INCHES) + 0.3
    bar_inches = 0.9 if difference is not None else 0.0
    figure = Figure(
        figsize=(
            len(panels) * panel_inches + bar_inches,
            math.ceil(count / columns) * TILE_INCHES + 0.8,
        )
    )
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    limit = None
    for index, (axis, (name, kernel)) in enumerate(zip(axes, panels)):
        if difference is not None and index == len(panels) - 1:
            limit = float(np.abs(kernel.mean(axis=-2)).max()) or 1.0
            tiles = [
                _diverging_rgb(kernel[..., f].mean(axis=-1), limit) for f in range(kernel.shape[-1])
            ]
        else:
            tiles = [_filter_rgb(kernel[..., f]) for f in range(kernel.shape[-1])]
        axis.imshow(_mosaic(_rows_of(tiles, columns)), interpolation="nearest")
        axis.set_title(name, fontsize=9)
        axis.set_axis_off()
    figure.suptitle("first-layer filters (stem_conv)", fontsize=10)
    right = 1 - (bar_inches + 0.1) / figure.get_figwidth() if limit is not None else 0.98
    figure.subplots_adjust(
        left=0.02, right=right, bottom=0.02, top=1 - 0.6 / figure.get_figheight(), wspace=0.08
    )
    if limit is not None:
        _colour_bar(figure, axes[-1], "RdBu_r", -limit, limit, "kernel difference")
    return figure


def activations_figure(
    images: np.ndarray,
    activations: dict[str, dict[str, np.ndarray]],
    difference: tuple[str, str] | None = None,
) -> Figure:
    """Per-stage activation maps (channel mean) of each model for the same images.

    ``activations`` maps a model name to ``{stage layer name: (N, h, w, c) array}``.
    Every stage has one colour scale, shared by all models and images, so the
    models can be compared by eye; ``difference=("ssl", "scratch")`` adds their
    difference per stage, each stage on a symmetric scale of its own with its
    colour bar (red: the first model higher). Maps are enlarged to the input's size.
    """
    size = images.shape[1]
    maps = {
        name: {stage: output.mean(axis=-1) for stage, output in stages.items()}
        for name, stages in activations.items()
    }
    stage_names = list(next(iter(maps.values())))
    ranges = {
        stage: (
            min(float(by_stage[stage].min()) for by_stage in maps.values() if stage in by_stage),
            max(float(by_stage[stage].max()) for by_stage in maps.values() if stage in by_stage),
        )
        for stage in stage_names
    }
    panels = [
        (f"{name}: stage activations (channel mean)", stages) for name, stages in maps.items()
    ]
    delta = {}
    if difference is not None:
        first, second = (maps[name] for name in difference)
        delta = {
            stage: first[stage] - second[stage]
            for stage in stage_names
            if stage in first and stage in second and first[stage].shape == second[stage].shape
        }
    stage_count = len(stage_names)
    bar_inches = 0.5 if delta else 0.0
    figure = Figure(
        figsize=(
            (1 + len(panels) * stage_count + len(delta)) * MAP_INCHES + 0.6 + 0.15 * len(delta),
            len(images) * MAP_INCHES + 0.8 + bar_inches,
        )
    )
    axes = figure.subplots(
        1,
        1 + len(panels) + len(delta),
        squeeze=False,
        gridspec_kw={"width_ratios": [1] + [stage_count] * len(panels) + [1] * len(delta)},
    )[0]
    inputs = [[_gray_rgb(to_display(image))] for image in images]
    _show_mosaic(axes[0], _mosaic(inputs), "input", [""], size)
    for axis, (title, stages) in zip(axes[1:], panels):
        rows = [
            [
                _enlarge(_colormap(values[index], value_range=ranges[stage]), size)
                for stage, values in stages.items()
            ]
            for index in range(len(images))
        ]
        _show_mosaic(axis, _mosaic(rows), title, list(stages), size)
    difference_axes = axes[1 + len(panels) :]
    for axis, (stage, values) in zip(difference_axes, delta.items()):
        limit = float(np.abs(values).max()) or 1.0
        rows = [
            [_enlarge(_diverging_rgb(values[index], limit), size)] for index in range(len(images))
        ]
        _show_mosaic(axis, _mosaic(rows), None, [stage], size)
        _colour_bar(figure, axis, "RdBu_r", -limit, limit, None, horizontal=True)
    figure.subplots_adjust(
        left=0.01,
        right=0.99,
        bottom=0.01 + bar_inches / figure.get_figheight(),
        top=1 - 0.6 / figure.get_figheight(),
        wspace=0.05,
    )
    if delta:
        left = difference_axes[0].get_position().x0
        right = difference_axes[len(delta) - 1].get_position().x1
        figure.text(
            (left + right) / 2,
            1 - 0.12 / figure.get_figheight(),
            f"{difference[0]} - {difference[1]} (own scale per stage)",
            ha="center",
            va="top",
            fontsize=9,
        )
    return figure


def rotations_figure(
    rotated: np.ndarray, true_rotations: np.ndarray, probabilities: np.ndarray
) -> Figure:
    """Rotated inputs with the pretext model's predicted and true rotation.

    ``rotated`` holds four rotations per image, in the order ``rotate_all`` gives;
    a green frame marks a correct prediction, a red one a wrong prediction.
    """
    predicted = probabilities.argmax(axis=-1)
    size = rotated.shape[1]
    border = max(1, size // 10)
    tiles = []
    for index, image in enumerate(rotated):
        color = CORRECT_RGB if predicted[index] == true_rotations[index] else WRONG_RGB
        tiles.append(_framed(_gray_rgb(to_display(image)), border, color))
    tile = size + 2 * border
    gap = max(2, tile // 3)  # room under each tile for its prediction
    rows = len(rotated) // 4
    figure = Figure(figsize=(4 * MAP_INCHES * 1.3 + 0.4, rows * MAP_INCHES * 1.3 + 0.9))
    axis = figure.subplots()
    _show_mosaic(
        axis,
        _mosaic(_rows_of(tiles, 4), padding=gap),
        None,
        [f"true {ROTATION_DEGREES[k]}°" for k in range(4)],
        tile,
        padding=gap,
    )
    for index in range(len(rotated)):
        guess = int(predicted[index])
        row, column = divmod(index, 4)
        axis.text(
            gap + column * (tile + gap) + tile / 2,
            gap + row * (tile + gap) + tile + gap / 2,
            f"pred {ROTATION_DEGREES[guess]}° ({probabilities[index, guess]:.0%})",
            ha="center",
            va="center",
            fontsize=7,
            color=CORRECT_RGB if guess == true_rotations[index] else WRONG_RGB,
        )
    correct = int((predicted == true_rotations).sum())
    figure.suptitle(f"rotation prediction: {correct}/{len(rotated)} correct", fontsize=10)
    figure.subplots_adjust(
        left=0.02, right=0.98, bottom=0.02, top=1 - 0.75 / figure.get_figheight()
    )
    return figure


def save_figure(figure: Figure, path: Path, dpi: int = 100) -> Path:
    """Write ``figure`` as a PNG (Agg, no display needed) and, beside it, as an SVG; return
    the PNG's path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi, format="png")
    figure.savefig(path.with_suffix(".svg"), format="svg")
    return path


def _colour_bar(
    figure: Figure,
    axis,
    colormap: str,
    low: float,
    high: float,
    label: str | None,
    horizontal: bool = False,
) -> None:
    """A colour bar for a panel drawn as an RGB mosaic (which has no scale of its own)."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    mappable = ScalarMappable(norm=Normalize(low, high), cmap=colormaps[colormap])
    if horizontal:
        bar = figure.colorbar(
            mappable, ax=axis, orientation="horizontal", fraction=0.05, pad=0.02, ticks=[0]
        )
        label = label or f"-{high:.2g} to +{high:.2g}"  # a narrow bar has room for one tick
    else:
        bar = figure.colorbar(mappable, ax=axis, fraction=0.08, pad=0.04)
    bar.ax.tick_params(labelsize=7)
    if label:
        bar.set_label(label, fontsize=8)


def _show_mosaic(
    axis,
    mosaic: np.ndarray,
    title: str | None,
    column_labels: list[str],
    tile: int,
    padding: int = 1,
) -> None:
    """One mosaic in one Axes, with a label over each column of tiles."""
    axis.imshow(mosaic, interpolation="nearest")
    axis.set_xticks(
        [padding + column * (tile + padding) + tile / 2 for column in range(len(column_labels))],
        labels=column_labels,
        fontsize=8,
    )
    axis.xaxis.tick_top()
    axis.tick_params(length=0)
    axis.set_yticks([])
    for spine in axis.spines.values():
        spine.set_visible(False)
    if title:
        axis.set_title(title, fontsize=9, pad=18)


def _mosaic(rows: list[list[np.ndarray]], padding: int = 1) -> np.ndarray:
    """Tile equally sized (h, w, 3) pictures into one image with white gaps."""
    height, width = rows[0][0].shape[:2]
    columns = max(len(row) for row in rows)
    mosaic = np.ones(
        (padding + len(rows) * (height + padding), padding + columns * (width + padding), 3)
    ) * np.array(PADDING_RGB)
    for row_index, row in enumerate(rows):
        for column_index, tile in enumerate(row):
            top = padding + row_index * (height + padding)
            left = padding + column_index * (width + padding)
            mosaic[top : top + height, left : left + width] = tile
    return mosaic


def _rows_of(tiles: list[np.ndarray], columns: int) -> list[list[np.ndarray]]:
    return [tiles[start : start + columns] for start in range(0, len(tiles), columns)]


def _filter_rgb(kernel: np.ndarray) -> np.ndarray:
    """One (h, w, in_channels) kernel: colour when it reads RGB, grey (0 = mid-grey) otherwise."""
    if kernel.shape[-1] == 3:
        span = float(kernel.max() - kernel.min()) or 1.0
        return (kernel - kernel.min()) / span
    weights = kernel.mean(axis=-1)
    limit = float(np.abs(weights).max()) or 1.0
    return np.repeat(((weights / limit + 1) / 2)[..., None], 3, axis=-1)


def _diverging_rgb(values: np.ndarray, limit: float) -> np.ndarray:
    return colormaps["RdBu_r"]((values / limit + 1) / 2)[..., :3]


def _gray_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, dtype=np.float64) / 255.0
    return image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=-1)


def _colormap(
    values: np.ndarray, name: str = "viridis", value_range: tuple[float, float] | None = None
) -> np.ndarray:
    """Values as colours, scaled to ``value_range`` (default: their own range)."""
    low, high = value_range if value_range is not None else (values.min(), values.max())
    span = float(high - low)
    scaled = np.clip((values - low) / span, 0, 1) if span > 0 else np.zeros_like(values)
    return colormaps[name](scaled)[..., :3]


def _enlarge(tile: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour resize of an (h, w, 3) tile to (size, size, 3)."""
    rows = np.arange(size) * tile.shape[0] // size
    columns = np.arange(size) * tile.shape[1] // size
    return tile[rows][:, columns]


def _framed(tile: np.ndarray, border: int, color) -> np.ndarray:
    framed = np.ones((tile.shape[0] + 2 * border, tile.shape[1] + 2 * border, 3)) * np.array(color)
    framed[border:-border, border:-border] = tile
    return framed
