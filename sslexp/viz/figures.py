"""Matplotlib figures built from arrays (no pyplot state, so safe in any process).

Each function takes plain NumPy arrays keyed by model name, so the same code
draws one model or several side by side.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from sslexp.viz.features import ROTATION_DEGREES
from sslexp.viz.images import to_display

CELL_INCHES = 0.55
MAP_INCHES = 1.1
CORRECT_COLOR = "#1a7f37"
WRONG_COLOR = "#cf222e"


def filters_figure(kernels: dict[str, np.ndarray], max_filters: int = 64) -> Figure:
    """First-layer filters of each model as an image grid, models side by side."""
    shown = {name: kernel[..., :max_filters] for name, kernel in kernels.items()}
    count = max(kernel.shape[-1] for kernel in shown.values())
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    figure = Figure(
        figsize=(len(shown) * columns * CELL_INCHES + 0.4 * len(shown), rows * CELL_INCHES + 0.6),
        layout="constrained",
    )
    panels = figure.subfigures(1, len(shown), squeeze=False)[0]
    for panel, (name, kernel) in zip(panels, shown.items()):
        panel.suptitle(f"{name}: first-layer filters", fontsize=9)
        axes = panel.subplots(rows, columns, squeeze=False)
        for index, axis in enumerate(axes.flat):
            axis.set_axis_off()
            if index < kernel.shape[-1]:
                _draw_filter(axis, kernel[..., index])
    return figure


def activations_figure(images: np.ndarray, activations: dict[str, dict[str, np.ndarray]]) -> Figure:
    """Per-stage activation maps (channel mean) of each model for the same images.

    ``activations`` maps a model name to ``{stage layer name: (N, h, w, c) array}``.
    """
    stage_count = max(len(stages) for stages in activations.values())
    rows = len(images)
    figure = Figure(
        figsize=((1 + len(activations) * stage_count) * MAP_INCHES + 0.3, rows * MAP_INCHES + 0.7),
        layout="constrained",
    )
    panels = figure.subfigures(
        1, 1 + len(activations), squeeze=False,
        width_ratios=[1] + [stage_count] * len(activations),
    )[0]
    panels[0].suptitle("input", fontsize=9)
    input_axes = panels[0].subplots(rows, 1, squeeze=False)[:, 0]
    for axis, image in zip(input_axes, images):
        axis.imshow(to_display(image), cmap="gray", interpolation="nearest")
        axis.set_axis_off()
    for panel, (name, stages) in zip(panels[1:], activations.items()):
        panel.suptitle(f"{name}: stage activations (channel mean)", fontsize=9)
        axes = panel.subplots(rows, stage_count, squeeze=False)
        for column, (stage, maps) in enumerate(stages.items()):
            axes[0, column].set_title(stage, fontsize=8)
            for row in range(rows):
                axes[row, column].imshow(maps[row].mean(axis=-1), cmap="viridis",
                                         interpolation="nearest")
        for axis in axes.flat:
            axis.set_axis_off()
    return figure


def rotations_figure(rotated: np.ndarray, true_rotations: np.ndarray,
                     probabilities: np.ndarray) -> Figure:
    """Rotated inputs with the pretext model's predicted and true rotation.

    ``rotated`` holds four rotations per image, in the order ``rotate_all`` gives.
    """
    predicted = probabilities.argmax(axis=-1)
    rows = len(rotated) // 4
    figure = Figure(figsize=(4 * MAP_INCHES * 1.2, rows * MAP_INCHES * 1.35 + 0.5),
                    layout="constrained")
    correct = int((predicted == true_rotations).sum())
    figure.suptitle(f"rotation prediction: {correct}/{len(rotated)} correct", fontsize=10)
    axes = figure.subplots(rows, 4, squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.imshow(to_display(rotated[index]), cmap="gray", interpolation="nearest")
        axis.set_xticks([])
        axis.set_yticks([])
        truth, guess = int(true_rotations[index]), int(predicted[index])
        color = CORRECT_COLOR if truth == guess else WRONG_COLOR
        axis.set_title(
            f"true {ROTATION_DEGREES[truth]}°\npred {ROTATION_DEGREES[guess]}° "
            f"({probabilities[index, guess]:.0%})",
            fontsize=7, color=color,
        )
        for spine in axis.spines.values():
            spine.set_color(color)
            spine.set_linewidth(2)
    return figure


def save_figure(figure: Figure, path: Path, dpi: int = 100) -> Path:
    """Write ``figure`` as a PNG (Agg, no display needed) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi, format="png")
    return path


def _draw_filter(axis, kernel: np.ndarray) -> None:
    """One (h, w, in_channels) kernel: colour when it reads RGB, grey otherwise."""
    if kernel.shape[-1] == 3:
        span = float(kernel.max() - kernel.min()) or 1.0
        axis.imshow((kernel - kernel.min()) / span, interpolation="nearest")
        return
    weights = kernel.mean(axis=-1)
    limit = float(np.abs(weights).max()) or 1.0
    axis.imshow(weights, cmap="gray", vmin=-limit, vmax=limit, interpolation="nearest")
