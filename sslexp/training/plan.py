"""What a run is about to do, printed before it starts: the data, the labels it uses, the
budget and where its backbone comes from, so a long run says what it will cost up front."""

from __future__ import annotations

import math
import sys
from pathlib import Path

from sslexp.config import PretrainConfig, TrainConfig
from sslexp.runs.protocol import backbone_dir, is_artifact_reference, is_backbone_finished

SHOWN_FILES = 5  # unreadable files named on the console; the record lists them all


def show(text: str) -> None:
    """On stderr, so that stdout keeps only results (a sweep logs both)."""
    print(text, file=sys.stderr, flush=True)


def describe_data(data) -> str:
    text = (
        f"data: {data.name} at {data.image_shape[0]}x{data.image_shape[1]} px, "
        f"{data.num_classes} classes, pool {len(data.pool_labels)}, "
        f"test {len(data.test_labels)}"
    )
    return text + unreadable_files_text(data.skipped_files)


def unreadable_files_text(files, full_list: str | None = "the record") -> str:
    """``; 2 unreadable files left out (a.png, b.jpg; ...)``, or nothing when there are none."""
    if not files:
        return ""
    shown = ", ".join(files[:SHOWN_FILES]) + (", ..." if len(files) > SHOWN_FILES else "")
    where = f"; all listed in {full_list}" if full_list else ""
    plural = "file" if len(files) == 1 else "files"
    return f"; {len(files)} unreadable {plural} left out ({shown}{where})"


def train_plan(
    config: TrainConfig, data, n_train: int, n_val: int, budget, backbone_cache: Path
) -> str:
    """``budget``: the run's ``sslexp.training.budget.Budget``; ``backbone_cache``: where
    ``--pretrained auto`` finds its backbone."""
    if budget.rule == "converged":
        spend = (
            f"at most {budget.max_updates} updates of {config.batch_size} images, stopping "
            f"after {budget.patience} without a better validation loss"
        )
    else:
        spend = (
            f"exactly {budget.max_updates} updates of {config.batch_size} images, keeping "
            f"the {budget.select} weights"
        )
    validation = f"every {budget.eval_every} updates" if n_val else "none"
    return "\n".join(
        [
            f"plan: {config.method} run, label fraction {config.label_fraction:g}, fold "
            f"{config.fold} of {config.folds}",
            f"  {describe_data(data)}",
            f"  labels: {n_train} to train, {n_val} to select the weights",
            f"  budget: {budget.rule}, {spend}",
            f"  validation: {validation}",
            f"  backbone: {describe_backbone(config, backbone_cache)}",
        ]
    )


def _epochs(count: int) -> str:
    return f"{count} epoch{'' if count == 1 else 's'}"


def describe_backbone(config: TrainConfig, backbone_cache: Path) -> str:
    """Where the run's backbone comes from, and whether it must be pretrained first."""
    if config.method == "scratch":
        return f"ResNet-{config.backbone.depth} width {config.backbone.width}, random init"
    if config.pretrained != "auto":
        where = "W&B artifact " if is_artifact_reference(config.pretrained) else ""
        return f"{where}{config.pretrained}, fine-tune {config.finetune}"
    cached_dir = backbone_dir(backbone_cache, config.pretrain_config())
    if is_backbone_finished(cached_dir):
        return f"pretrained, cached in {cached_dir}, fine-tune {config.finetune}"
    pretext = config.pretext
    return (
        f"not cached yet: pretraining it first into {cached_dir} "
        f"({_epochs(pretext.epochs)}; a run that needs the same backbone waits for it)"
    )


def pretrain_steps_per_epoch(n_images: int, batch_size: int) -> int:
    """Batches of source images per epoch (each holds 4 rotations with ``rotations: all``)."""
    return max(1, math.ceil(n_images / batch_size))


def pretrain_plan(config: PretrainConfig, data, n_train: int, n_val: int, output_dir: Path) -> str:
    pretext = config.pretext
    steps = pretext.steps_per_epoch(pretrain_steps_per_epoch(n_train, pretext.batch_size))
    samples = "all 4 rotations of" if pretext.rotations == "all" else "one random rotation of"
    return "\n".join(
        [
            f"plan: RotNet pretraining of ResNet-{config.backbone.depth} width "
            f"{config.backbone.width} into {output_dir}",
            f"  {describe_data(data)}",
            f"  images: {n_train} to pretrain on ({samples} each), {n_val} held out to select the "
            "epoch",
            f"  budget: {_epochs(pretext.epochs)} x {steps} steps of {pretext.batch_size} images = "
            f"{steps * pretext.epochs} updates",
        ]
    )
