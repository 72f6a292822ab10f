"""The figures a run saves next to its checkpoint (and logs to W&B), and the
ssl-vs-scratch comparison: cheap enough to call at the end of every run."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sslexp.viz.features import (
    first_layer_filters,
    predict_rotations,
    rotate_all,
    stage_activations,
)
from sslexp.viz.figures import activations_figure, filters_figure, rotations_figure, save_figure

FILTERS_PNG = "filters.png"
ACTIVATIONS_PNG = "activations.png"
ROTATIONS_PNG = "rotations.png"
FILTERS_SIDE_BY_SIDE_PNG = "filters_side_by_side.png"
ACTIVATIONS_SIDE_BY_SIDE_PNG = "activations_side_by_side.png"
WANDB_KEY_PREFIX = "figures/"


def figure_files(paths, run_dir: Path) -> dict[str, str]:
    """Figure paths as a record's ``files`` entries (role = path without its suffix)."""
    relative = [Path(path).relative_to(run_dir) for path in paths]
    return {path.with_suffix("").as_posix(): path.as_posix() for path in relative}


def save_run_figures(
    model,
    images: np.ndarray,
    out_dir: str | Path,
    wandb_run=None,
    max_images: int = 4,
    name: str = "model",
) -> list[Path]:
    """First-layer filters and stage activations of one model, as PNGs in ``out_dir``.

    ``images`` are raw 0-255 pixels (N, H, W, C); the first ``max_images`` are
    drawn. With ``wandb_run``, the PNGs are also logged as ``figures/filters``
    and ``figures/activations``.
    """
    return save_comparison_figures(
        {name: model},
        images,
        out_dir,
        wandb_run,
        max_images,
        file_names=(FILTERS_PNG, ACTIVATIONS_PNG),
    )


def save_comparison_figures(
    models: dict,
    images: np.ndarray,
    out_dir: str | Path,
    wandb_run=None,
    max_images: int = 8,
    file_names=(FILTERS_SIDE_BY_SIDE_PNG, ACTIVATIONS_SIDE_BY_SIDE_PNG),
    initial: tuple[str, np.ndarray] | None = None,
    shared_start: bool | None = None,
) -> list[Path]:
    """Filters and activations of several models (e.g. ``{"ssl": ..., "scratch": ...}``)
    side by side, each computed from its own weights on the same images; two
    models also get panels of their filter and activation differences.
    ``initial=(title, kernels)`` adds the first-layer kernels the second model started
    from. ``shared_start=False`` (the models started from different random kernels):
    no filter difference between them, which would mix initialisation with learning;
    with ``initial``, the second model minus its start instead (what training moved)."""
    if not models:
        raise ValueError("give at least one model to draw")
    out_dir = Path(out_dir)
    images = np.asarray(images)[:max_images]
    kernels = {name: first_layer_filters(model) for name, model in models.items()}
    pair = tuple(kernels) if len(kernels) == 2 else None
    same_shape = pair is not None and len({kernel.shape for kernel in kernels.values()}) == 1
    if initial is not None and initial[1].shape != next(iter(kernels.values())).shape:
        initial = None  # kernels of another architecture cannot share the panel's layout
    difference = pair if same_shape else None
    if difference is not None and shared_start is False:
        difference = (pair[1], initial[0]) if initial is not None else None
    filters = filters_figure(kernels, difference=difference, initial=initial)
    activations = activations_figure(
        images,
        {name: stage_activations(model, images) for name, model in models.items()},
        difference=pair,
    )
    paths = [
        save_figure(filters, out_dir / file_names[0]),
        save_figure(activations, out_dir / file_names[1]),
    ]
    log_figures(wandb_run, paths)
    return paths


def save_pretext_figures(
    pretext_model, images: np.ndarray, out_dir: str | Path, wandb_run=None, max_images: int = 4
) -> list[Path]:
    """The pretext model's rotation predictions on all four rotations of each image,
    plus its first-layer filters."""
    out_dir = Path(out_dir)
    rotated, true_rotations = rotate_all(np.asarray(images)[:max_images])
    probabilities = predict_rotations(pretext_model, rotated)
    paths = [
        save_figure(
            rotations_figure(rotated, true_rotations, probabilities), out_dir / ROTATIONS_PNG
        ),
        save_figure(
            filters_figure({"pretext": first_layer_filters(pretext_model)}), out_dir / FILTERS_PNG
        ),
    ]
    log_figures(wandb_run, paths)
    return paths


def log_figures(wandb_run, paths: list[Path]) -> None:
    """Log PNGs as ``wandb.Image`` under ``figures/<file stem>``; nothing without a run."""
    if wandb_run is None:
        return
    import wandb

    wandb_run.log(
        {
            WANDB_KEY_PREFIX + path.stem: wandb.Image(
                str(path), caption=path.stem.replace("_", " ")
            )
            for path in paths
        }
    )
