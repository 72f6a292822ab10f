"""The report's pictures: one ssl and one scratch run of the same fraction and
fold, drawn side by side from their own checkpoints, plus the pretext model's
rotation predictions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sslexp.report.collect import PretrainRun, SweepData, SweepRun

INITIAL_TITLE = "initial (scratch's start)"
ImageSource = Callable[[str, int], np.ndarray]
"""(data set name, image size) -> test images (N, H, W, C), raw 0-255 pixels."""


@dataclass
class ReportFigure:
    title: str
    caption: str
    path: Path
    wide: bool = False  # too detailed to share a row with another figure


@dataclass
class Visuals:
    figures: list[ReportFigure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def choose_pair(sweep: SweepData) -> tuple[SweepRun, SweepRun] | None:
    """The finished ssl/scratch pair with a checkpoint at the smallest fraction (then fold)."""
    candidates: dict[tuple, dict[str, SweepRun]] = {}
    for run in sweep.usable_runs:
        if run.file("model") is not None:
            key = (run.label_fraction, run.fold if run.fold is not None else -1)
            candidates.setdefault(key, {})[run.method] = run
    for key in sorted(candidates):
        if {"ssl", "scratch"} <= set(candidates[key]):
            return candidates[key]["ssl"], candidates[key]["scratch"]
    return None


def draw_visuals(
    sweep: SweepData,
    pretrains: list[PretrainRun],
    out_dir: Path,
    image_source: ImageSource,
    image_count: int = 4,
    seed: int = 0,
) -> Visuals:
    """Draw what can be drawn; every picture that cannot is explained in ``notes``."""
    from sslexp.viz import load_model, save_comparison_figures, save_pretext_figures, select_images

    visuals = Visuals()
    pair = choose_pair(sweep)
    # with one backbone per fold, the one the pictured ssl run started from
    ordered = sorted(pretrains, key=lambda p: pair is None or pair[0].run_id not in p.run_ids)
    pretext_run = next((p for p in ordered if p.pretext_checkpoint), None)
    pretext_path = pretext_run.pretext_checkpoint if pretext_run else None
    if pair is None:
        visuals.notes.append(
            "No label fraction has both a finished ssl and a finished scratch run with a "
            "saved model, so filters and activations are not shown."
        )
    if pair is None and pretext_path is None:
        visuals.notes.append("No pretext.keras was found next to the ssl runs' backbone.")
        return visuals
    try:
        models = {run.method: load_model(run.file("model")) for run in pair or ()}
        pretext = load_model(pretext_path, "pretext") if pretext_path else None
        reference = next(iter(models.values()), pretext)
        image_size = int(reference.input_shape[1])
        config = (pair[0] if pair else sweep.runs[0]).config
        dataset = config.get("dataset") or sweep.sweep_config.get("parameters", {}).get(
            "dataset", {}
        ).get("value")
        images, indices = select_images(image_source(str(dataset), image_size), image_count, seed)
        if tuple(images.shape[1:3]) != tuple(reference.input_shape[1:3]):
            raise ValueError(
                f"the images are {images.shape[1]}x{images.shape[2]} pixels but the models take "
                f"{reference.input_shape[1]}x{reference.input_shape[2]}; give --npz images of "
                f"that size, or leave --npz out so the data set's own test images are used"
            )
    except Exception as error:  # a report without pictures beats no report
        visuals.notes.append(f"Pictures skipped: {type(error).__name__}: {error}")
        return visuals
    chosen = f"test images {', '.join(str(i) for i in indices)} (seed {seed})"
    if pair:
        ssl, scratch = pair
        initial = _initial_filters(scratch)
        shared = shared_start(ssl, scratch)
        filters_path, activations_path = save_comparison_figures(
            models,
            images,
            out_dir,
            max_images=image_count,
            initial=(INITIAL_TITLE, initial) if initial is not None else None,
            shared_start=shared,
        )
        where = (
            f"label fraction {ssl.label_fraction:g}, fold {ssl.fold}: runs {ssl.run_id} (ssl) "
            f"and {scratch.run_id} (scratch)"
        )
        visuals.figures += [
            ReportFigure(
                "First-layer filters, ssl vs scratch",
                f"stem_conv kernels of each checkpoint, each filter on its own scale. "
                f"{initialisation_caption(ssl, scratch, initial is not None)} "
                f"{movement_caption(models, initial, shared)} {where}.",
                filters_path,
            ),
            ReportFigure(
                "Stage activations, ssl vs scratch",
                f"Channel-mean output of each residual stage for {chosen}; each stage "
                f"on one colour scale shared by both models, and ssl - scratch on a "
                f"symmetric scale per stage, with its colour bar (red: ssl higher); "
                f"{where}.",
                activations_path,
                wide=True,
            ),
        ]
    if pretext is not None:
        rotations_path, _ = save_pretext_figures(
            pretext, images, out_dir / "pretext", max_images=image_count
        )
        visuals.figures.append(
            ReportFigure(
                "Pretext rotation predictions",
                f"All four rotations of {chosen}, predicted by the pretext model of backbone "
                f"{pretext_run.name}.",
                rotations_path,
            )
        )
    return visuals


def _initial_filters(run: SweepRun) -> np.ndarray | None:
    path = run.file("initial_filters")
    try:
        return np.load(path) if path is not None else None
    except (OSError, ValueError):
        return None


def start_seeds(ssl: SweepRun, scratch: SweepRun) -> tuple[int | None, int | None]:
    """(scratch's run seed, the ssl backbone's pretext seed), None where not recorded: the
    seeds the two models' first random kernels were drawn with."""
    from sslexp.config import TrainConfig, from_dict

    try:
        scratch_seed = from_dict(TrainConfig, scratch.record.config).run_seed
    except (AttributeError, TypeError, ValueError):
        return None, None
    try:
        pretext_config = ssl.record.model_view.pretext.get("config") or {}
        pretext_seed = (pretext_config.get("pretext") or {}).get("seed")
    except (AttributeError, TypeError):
        pretext_seed = None
    return scratch_seed, None if pretext_seed is None else int(pretext_seed)


def shared_start(ssl: SweepRun, scratch: SweepRun) -> bool | None:
    """Whether both models' first layers started from the same random kernels (equal seeds
    and architecture); None when a seed is not recorded."""
    scratch_seed, pretext_seed = start_seeds(ssl, scratch)
    if scratch_seed is None or pretext_seed is None:
        return None
    return scratch_seed == pretext_seed


def initialisation_caption(ssl: SweepRun, scratch: SweepRun, has_initial: bool) -> str:
    """Where the two models' first layers started, from their configs: scratch from random
    kernels drawn with its run seed; ssl from the pretrained backbone, whose pretraining
    started from random kernels drawn with the pretext seed. Equal seeds (and architecture)
    mean the same random kernels, so the difference shows what pretraining changed."""
    scratch_seed, pretext_seed = start_seeds(ssl, scratch)
    if scratch_seed is None:
        return ""
    start = (
        f"The first column shows the random kernels scratch started from (seed {scratch_seed}). "
        if has_initial
        else ""
    )
    if pretext_seed is None:
        return start + (
            "The ssl backbone's pretext seed is not recorded, so the ssl - scratch "
            "panel may mix initialisation with learning."
        )
    if pretext_seed == scratch_seed:
        return (
            start + f"The ssl backbone's pretraining started from the same random kernels "
            f"(pretext seed {pretext_seed}), so both models share their "
            f"initialisation and the ssl - scratch panel (one shared scale, colour "
            f"bar) is what pretraining and fine-tuning changed."
        )
    return (
        start + f"The ssl backbone's pretraining started from other random kernels "
        f"(pretext seed {pretext_seed}): the models share no initialisation, so no "
        f"ssl - scratch panel is drawn (it would mix initialisation with "
        f"learning)"
        + ("; the last panel shows what training moved in scratch instead." if has_initial else ".")
    )


def movement_caption(models: dict, initial: np.ndarray | None, shared: bool | None) -> str:
    """How far each model's first-layer kernels moved from where they started, in words:
    mean |after - start| / mean |start|."""
    from sslexp.viz.features import first_layer_filters, relative_filter_difference

    kernels = {name: first_layer_filters(model) for name, model in models.items()}
    sentences = []
    if initial is not None and initial.shape == kernels["scratch"].shape:
        moved = {
            name: _relative_change(kernel, initial)
            for name, kernel in kernels.items()
            if name == "scratch" or shared
        }
        listing = ", ".join(f"{name} {change:.0%}" for name, change in moved.items())
        sentences.append(
            f"Moved from {'the shared' if shared else 'its'} start: {listing} "
            f"(mean |kernel - start| / mean |start|); scratch's filters "
            f"{_how_far(moved['scratch'])}."
        )
    if shared is not False:
        change = relative_filter_difference(models["ssl"], models["scratch"])
        sentences.append(
            f"ssl and scratch differ by {change:.0%} (mean |ssl - scratch| / mean |scratch|)."
        )
    return " ".join(sentences)


def _relative_change(kernel: np.ndarray, start: np.ndarray) -> float:
    return float(np.abs(kernel - start).mean() / (np.abs(start).mean() or 1.0))


def _how_far(change: float) -> str:
    """A relative change in words: what a reader should take from the number."""
    if change < 0.1:
        return "barely moved from their initialisation: downstream training left them random"
    if change < 0.5:
        return "moved a little from their initialisation"
    return "moved far from their initialisation"


def dataset_images(cache_dir: str | Path) -> ImageSource:
    """Test images from ``sslexp.data.load_dataset``, resized to the models' input."""

    def load(dataset: str, image_size: int) -> np.ndarray:
        from sslexp.data import load_dataset

        return load_dataset(dataset, image_size, cache_dir).test_images

    return load


def npz_images(path: str | Path) -> ImageSource:
    """Test images from a .npz file, whatever the data set."""

    def load(dataset: str, image_size: int) -> np.ndarray:
        from sslexp.viz import load_npz_images

        return load_npz_images(path)

    return load
