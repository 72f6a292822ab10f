"""One downstream run: (label fraction, method, fold) -> fit -> one test evaluation.

The validation split, carved from the labelled subset, selects the epoch (or,
with ``select: last``, there is none and the final weights of a fixed budget
are kept); the test split is evaluated at the end, with the selected weights
and BatchNorm statistics recomputed from the training images
(``sslexp.training.batchnorm``). Budgets count optimizer updates
(``sslexp.training.budget``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import numpy as np
from sklearn.metrics import confusion_matrix

from sslexp.config import TrainConfig
from sslexp.data import load_dataset
from sslexp.data.pipelines import LabelledBatches
from sslexp.data.splits import label_split
from sslexp.errors import InputError
from sslexp.models import (
    apply_finetune_policy,
    build_backbone,
    build_classifier,
    describe,
    load_backbone,
    pool_pixel_mean,
)
from sslexp.runs.lifecycle import check_run_dir
from sslexp.runs.protocol import TRAIN_JOB, is_artifact_reference, progress_path, train_summary
from sslexp.runs.provenance import provenance
from sslexp.runs.record import (
    BEST_WEIGHTS_FILE,
    FIGURES_DIR,
    HISTORY_FILE,
    INITIAL_FILTERS_FILE,
    MODEL_FILE,
    Record,
    read_history,
    read_record,
    write_atomic,
)
from sslexp.training import plan, runtime, tracking
from sslexp.training.augmentation import augmented
from sslexp.training.backbones import ensure_backbone
from sslexp.training.batchnorm import RecalibrateBeforeValidation, recalibrate, recalibration_images
from sslexp.training.budget import MONITOR, budget_callbacks, budget_for, budget_summary
from sslexp.training.progress import ProgressCallback
from sslexp.training.timing import StepTimer
from sslexp.training.tracking import WandbSettings
from sslexp.tuning import apply_tuned
from sslexp.viz.features import first_layer_filters
from sslexp.viz.run_figures import figure_files, save_run_figures


@dataclasses.dataclass(frozen=True)
class PretrainedBackbone:
    """Where an ssl run's backbone came from, as its record states it."""

    path: Path
    reference: str
    pretext: dict | None
    artifact: str | None = None  # the W&B artifact of the backbone, when it has one

    def summary(self) -> dict:
        return {
            "path": str(self.path.resolve()),
            "reference": self.reference,
            "pretext": self.pretext,
        }


def find_pretrained(
    config: TrainConfig,
    cache_dir: Path,
    backbone_cache: Path,
    wandb_settings: WandbSettings,
    progress_to: Path | None = None,
) -> PretrainedBackbone:
    """The backbone file an ssl run starts from: the cached one for ``auto`` (pretrained
    now if nobody has), a W&B artifact, or a path."""
    if config.pretrained == "auto":  # pretrained with this run's W&B settings, as its own run
        path = ensure_backbone(
            config.pretrain_config(),
            backbone_cache,
            cache_dir,
            wandb_settings,
            progress_to=progress_to,
        )
    elif is_artifact_reference(config.pretrained):
        path = tracking.download_backbone_artifact(config.pretrained, wandb_settings)
    else:
        path = Path(config.pretrained)
    pretext = read_record(Path(path).parent)
    summary = None
    if pretext is not None and pretext.kind == "pretrain":
        summary = {
            "key": pretext.key,
            "config": pretext.config,
            "best_epoch": pretext.best_epoch,
            "best_val_accuracy": pretext.best_val_accuracy,
        }
        _check_same_architecture(config, pretext.config, path)
    artifact = (
        config.pretrained
        if is_artifact_reference(config.pretrained)
        else pretext.artifact
        if pretext is not None
        else None
    )
    return PretrainedBackbone(Path(path), config.pretrained, summary, artifact)


def _check_same_architecture(config: TrainConfig, pretext_config: dict, path) -> None:
    """ssl and scratch must share an architecture, or the comparison is not fair."""
    trained = pretext_config.get("backbone", {})
    wanted = dataclasses.asdict(config.backbone)
    different = {k: (trained[k], v) for k, v in wanted.items() if k in trained and trained[k] != v}
    if different:
        detail = ", ".join(f"{k}: checkpoint {a} vs run {b}" for k, (a, b) in different.items())
        raise InputError(
            "pretrained",
            str(path),
            f"was pretrained with another architecture ({detail}); pass the same "
            "--depth/--width/--preprocessing as `sslexp pretrain` used.",
        )


def evaluate_once(
    model, images: np.ndarray, labels: np.ndarray, class_names, batch_size: int
) -> dict:
    """Test metrics from one pass over the test split."""
    probabilities = model.predict(LabelledBatches(images, labels, batch_size), verbose=0)
    predicted = probabilities.argmax(axis=1)
    picked = np.clip(probabilities[np.arange(len(labels)), labels], 1e-7, 1.0)
    matrix = confusion_matrix(labels, predicted, labels=np.arange(len(class_names)))
    per_class = matrix.diagonal() / np.maximum(matrix.sum(axis=1), 1)
    return {
        "accuracy": float((predicted == labels).mean()),
        "loss": float(-np.log(picked).mean()),
        "n_test": int(len(labels)),
        "class_names": list(class_names),
        "per_class_accuracy": {name: float(acc) for name, acc in zip(class_names, per_class)},
        "confusion_matrix": matrix.tolist(),
    }


def run_training(
    config: TrainConfig,
    output_dir: Path,
    cache_dir: Path,
    backbone_cache: Path,
    wandb_settings: WandbSettings = WandbSettings(),
    run_name: str | None = None,
    resume: bool = False,
) -> Record:
    """Train, select the epoch on validation, test once, and record it all.

    Every input (data set, split, run directory, pretrained backbone,
    fine-tune policy) is checked before anything is written to ``output_dir``.
    The seconds of each named step go to ``record.timings``.
    """
    output_dir, run_name = Path(output_dir), run_name or config.default_run_name()
    config = apply_tuned(config)  # the method's tuned lr, augment and weight decay, if named
    timer = StepTimer()
    with timer.step("data"):
        data, split, budget = _labelled_data(config, cache_dir)
    given = config.method == "ssl" and config.pretrained != "auto"
    with timer.step("backbone"):  # a given file or artifact is checked before the run directory
        pretrained, backbone, trainable_layers = (
            _pretrained_backbone(config, data, cache_dir, backbone_cache, wandb_settings)
            if given
            else (None, None, [])
        )
    check_run_dir(output_dir, resume)
    n_train, n_val = len(split.train_indices), len(split.val_indices)
    plan.show(plan.train_plan(config, data, n_train, n_val, budget, backbone_cache))
    with timer.step("backbone"):
        if config.method == "ssl" and not given:  # auto: pretrained now unless cached
            pretrained, backbone, trainable_layers = _pretrained_backbone(
                config, data, cache_dir, backbone_cache, wandb_settings, progress_path(output_dir)
            )
        # after any pretraining, so nothing draws from the generators it seeds
        ran_on = runtime.configure(config.run_seed, config.precision, cache_dir)
        if config.method == "scratch":
            backbone, trainable_layers = _new_backbone(config, data)
    with timer.step("model"):
        model = build_classifier(backbone, data.num_classes)
    record = _new_record(config, run_name, data, split, model, trainable_layers, pretrained, ran_on)
    record.timings = timer.seconds
    with tracking.tracked_run(
        wandb_settings,
        record,
        output_dir,
        resume,
        job_type=TRAIN_JOB,
        name=run_name,
        config=tracking.flat(config),
        upload=(MODEL_FILE,),
    ) as run:
        if pretrained is not None:
            record.model["pretrained"]["artifact"] = tracking.declare_backbone(
                run, pretrained.artifact
            )
        with timer.step("compile"):
            model = _compiled(model, config, output_dir)
        calibration = recalibration_images(data.pool_images[split.train_indices], config.run_seed)
        with timer.step("fit"):
            _fit(model, config, data, split, budget, output_dir, resume, calibration, run)
        with timer.step("select"):
            _select(model, record, output_dir, validated=config.select == "best")
        with timer.step("test"):
            record.training, record.test = _test(model, config, data, budget, record, calibration)
        with timer.step("save"):
            runtime.save_model_atomic(model, output_dir / MODEL_FILE)
            record.files = _files(model, data, output_dir, run, config.select == "best")
        record.wandb = tracking.mirror_summary(run, train_summary(record))
    return record


def _labelled_data(config: TrainConfig, cache_dir: Path):
    """The data set, the run's labelled subset (train and validation) and its budget."""
    data = load_dataset(config.dataset, config.image_size, cache_dir)
    split = label_split(
        data.pool_labels,
        config.label_fraction,
        config.fold,
        config.folds,
        config.seed,
        config.val_fraction,
        with_validation=config.select == "best",
    )
    return data, split, budget_for(config, len(split.train_indices))


def _compiled(model, config: TrainConfig, output_dir: Path):
    """The model compiled with the run's optimizer; its first filters kept for the figures."""
    optimizer = keras.optimizers.Adam(config.lr, weight_decay=config.weight_decay or None)
    model = runtime.compile_model(model, optimizer, "sparse_categorical_crossentropy", ["accuracy"])
    _save_initial_filters(model, output_dir / INITIAL_FILTERS_FILE)
    return model


def _new_backbone(config: TrainConfig, data) -> tuple:
    """A scratch run's backbone (the same architecture, randomly initialised), with the
    fine-tune policy applied, and the names of its trainable layers."""
    backbone = build_backbone(
        data.image_shape,
        config.backbone,
        pool_pixel_mean(data.pool_images, config.backbone.preprocessing),
    )
    return backbone, apply_finetune_policy(backbone, config.effective_finetune)


def _pretrained_backbone(
    config: TrainConfig,
    data,
    cache_dir: Path,
    backbone_cache: Path,
    wandb_settings: WandbSettings,
    progress_to: Path | None = None,
):
    """Where an ssl run's backbone came from, the backbone (checked against the data) with the
    fine-tune policy applied, and the names of its trainable layers."""
    pretrained = find_pretrained(config, cache_dir, backbone_cache, wandb_settings, progress_to)
    backbone = load_backbone(pretrained.path, data.image_shape)
    return pretrained, backbone, apply_finetune_policy(backbone, config.effective_finetune)


def _new_record(
    config: TrainConfig,
    run_name: str,
    data,
    split,
    model,
    trainable_layers,
    pretrained: PretrainedBackbone | None,
    ran_on,
) -> Record:
    """The record as the run starts: what it trains, on which labels, on what."""
    return Record(
        kind="train",
        name=run_name,
        config=config.as_dict(),
        provenance=provenance(),
        skipped_files=list(data.skipped_files),
        split={
            **split.summary(),
            "dataset_fingerprint": data.fingerprint,
            "pool_size": len(data.pool_labels),
            "test_size": len(data.test_labels),
        },
        model={
            **describe(model),
            "finetune": config.effective_finetune,
            "trainable_layers": trainable_layers + ["classifier"],
            "backbone": {
                **dataclasses.asdict(config.backbone),
                "input_shape": list(data.image_shape),
            },
            "pretrained": pretrained.summary() if pretrained else None,
            "runtime": ran_on.summary(),
        },
    )


def _fit(
    model,
    config: TrainConfig,
    data,
    split,
    budget,
    output_dir: Path,
    resume: bool,
    calibration_images: np.ndarray,
    run,
) -> None:
    """``budget.epochs`` epochs of ``budget.eval_every`` updates, validating after each."""
    validated = config.select == "best"
    callbacks = [
        *_checkpoints(output_dir, output_dir / BEST_WEIGHTS_FILE, resume, validated),
        *budget_callbacks(budget),
        RecalibrateBeforeValidation(calibration_images),
        *tracking.metrics_callbacks(run),
        ProgressCallback([progress_path(output_dir)], "train"),
    ]
    val_indices = split.val_indices
    model.fit(
        augmented(
            LabelledBatches(
                data.pool_images[split.train_indices],
                data.pool_labels[split.train_indices],
                config.batch_size,
                shuffle=True,
                seed=config.run_seed,
                endless=True,
            ),
            config.augment,
            config.run_seed,
        ),
        steps_per_epoch=budget.eval_every,
        validation_data=LabelledBatches(
            data.pool_images[val_indices], data.pool_labels[val_indices], config.batch_size
        )
        if validated
        else None,
        epochs=budget.epochs,
        callbacks=callbacks,
        verbose=runtime.fit_verbosity(),
        shuffle=False,  # the pipeline shuffles
    )


def _select(model, record: Record, output_dir: Path, validated: bool) -> None:
    """Keep the weights of the epoch with the best validation loss (the last one without
    validation), and record which epoch that was."""
    record.history = read_history(output_dir / HISTORY_FILE)
    if validated:
        model.load_weights(output_dir / BEST_WEIGHTS_FILE)
        best_row = min(record.history, key=lambda row: row.get(MONITOR, float("inf")))
    else:
        best_row = record.history[-1]
    record.best_epoch = best_row["epoch"]
    record.best_val_accuracy = best_row.get("val_accuracy")


def _test(
    model, config: TrainConfig, data, budget, record: Record, calibration_images: np.ndarray
) -> tuple[dict, dict]:
    """The record's ``training`` and ``test`` sections: BatchNorm statistics recomputed from
    the training images, then the test split evaluated with them. The accuracy with the
    statistics Keras kept during training is measured first, for comparison only."""
    batch_size = max(config.batch_size, 256)
    without = evaluate_once(model, data.test_images, data.test_labels, data.class_names, batch_size)
    training = {
        **budget_summary(budget, record.history, record.best_epoch),
        "batchnorm": {
            "rule": "recalibrated from the training images",
            **recalibrate(model, calibration_images),
        },
    }
    test = {
        **evaluate_once(model, data.test_images, data.test_labels, data.class_names, batch_size),
        "without_recalibration": {key: without[key] for key in ("accuracy", "loss")},
    }
    return training, test


def _files(model, data, output_dir: Path, run, validated: bool) -> dict[str, str]:
    """The record's ``files``: what the run wrote, the figures of its model included."""
    figures = save_run_figures(model, data.test_images[:4], output_dir / FIGURES_DIR, wandb_run=run)
    return {
        "model": MODEL_FILE,
        "history": HISTORY_FILE,
        "initial_filters": INITIAL_FILTERS_FILE,
        **({"best_weights": BEST_WEIGHTS_FILE} if validated else {}),
        **figure_files(figures, output_dir),
    }


def _checkpoints(output_dir: Path, best_weights: Path, resume: bool, validated: bool) -> list:
    """History, best-epoch checkpoint and backup; without validation there is no best epoch,
    so no best checkpoint: the final weights are the run's."""
    callbacks = runtime.checkpoint_callbacks(
        output_dir, best_weights, MONITOR, "min", resume, weights_only=True
    )
    if validated:
        return callbacks
    return [
        callback
        for callback in callbacks
        if not isinstance(callback, keras.callbacks.ModelCheckpoint)
    ]


def _save_initial_filters(model, path: Path) -> None:
    """The first-layer kernels the run starts from, for the filter figure's initial column
    (a resumed run keeps the file its first attempt wrote)."""
    if not path.exists():
        write_atomic(path, lambda stream: np.save(stream, first_layer_filters(model)))
