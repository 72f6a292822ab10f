"""One downstream run: (label fraction, method, fold) -> fit -> one test evaluation.

The validation split, carved from the labelled subset, selects the epoch; the
test split is evaluated exactly once, at the end, with the selected weights.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from sslexp.config import TrainConfig
from sslexp.runs.lifecycle import check_run_dir, recorded
from sslexp.runs.record import (BEST_WEIGHTS_FILE, FIGURES_DIR, HISTORY_FILE, MODEL_FILE, Record,
                                read_history, read_record)
from sslexp.training.tracking import WandbSettings

MONITOR = "val_loss"


@dataclasses.dataclass(frozen=True)
class PretrainedBackbone:
    """Where an ssl run's backbone came from, as its record states it."""

    path: Path
    reference: str
    pretext: dict | None

    def summary(self) -> dict:
        return {"path": str(self.path.resolve()), "reference": self.reference,
                "pretext": self.pretext}


def find_pretrained(config: TrainConfig, cache_dir: Path, backbone_cache: Path,
                    wandb_settings: WandbSettings,
                    progress_to: Path | None = None) -> PretrainedBackbone:
    """The backbone file an ssl run starts from: the cached one for ``auto`` (pretrained
    now if nobody has), a W&B artifact, or a path."""
    from sslexp.training import tracking
    from sslexp.training.backbones import ensure_backbone

    if config.pretrained == "auto":
        path = ensure_backbone(config.pretrain_config(), backbone_cache, cache_dir,
                               WandbSettings(mode="disabled"), progress_to)
    elif tracking.is_artifact_reference(config.pretrained):
        path = tracking.download_backbone_artifact(config.pretrained, wandb_settings)
    else:
        path = Path(config.pretrained)
    pretext = read_record(Path(path).parent)
    summary = None
    if pretext is not None and pretext.kind == "pretrain":
        summary = {"key": pretext.key, "config": pretext.config, "best_epoch": pretext.best_epoch,
                   "best_val_accuracy": pretext.best_val_accuracy}
        _check_same_architecture(config, pretext.config, path)
    return PretrainedBackbone(Path(path), config.pretrained, summary)


def _check_same_architecture(config: TrainConfig, pretext_config: dict, path) -> None:
    """ssl and scratch must share an architecture, or the comparison is not fair."""
    from sslexp.errors import InputError

    trained = pretext_config.get("backbone", {})
    wanted = dataclasses.asdict(config.backbone)
    different = {k: (trained[k], v) for k, v in wanted.items() if k in trained and trained[k] != v}
    if different:
        detail = ", ".join(f"{k}: checkpoint {a} vs run {b}" for k, (a, b) in different.items())
        raise InputError("pretrained", str(path),
                         f"was pretrained with another architecture ({detail}); pass the same "
                         "--depth/--width/--preprocessing as `sslexp pretrain` used.")


def evaluate_once(model, images: np.ndarray, labels: np.ndarray, class_names,
                  batch_size: int) -> dict:
    """Test metrics from one pass over the test split."""
    from sklearn.metrics import confusion_matrix

    from sslexp.data.pipelines import labelled_dataset

    probabilities = model.predict(labelled_dataset(images, labels, batch_size, False, 0),
                                  verbose=0)
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


def run_training(config: TrainConfig, output_dir: Path, cache_dir: Path, backbone_cache: Path,
                 wandb_settings: WandbSettings = WandbSettings(), run_name: str | None = None,
                 resume: bool = False) -> Record:
    """Train, select the epoch on validation, test once, and record it all.

    Every input (data set, split, run directory, pretrained backbone,
    fine-tune policy) is checked before anything is written to ``output_dir``.
    """
    import keras

    from sslexp.data import load_dataset
    from sslexp.data.pipelines import labelled_dataset
    from sslexp.data.splits import label_split
    from sslexp.models import (apply_finetune_policy, build_backbone, build_classifier, describe,
                               load_backbone, pool_pixel_mean)
    from sslexp.runs.provenance import provenance
    from sslexp.training import plan, progress, runtime, tracking

    output_dir = Path(output_dir)
    run_name = run_name or config.default_run_name()
    data = load_dataset(config.dataset, config.image_size, cache_dir)
    split = label_split(data.pool_labels, config.label_fraction, config.fold, config.folds,
                        config.seed, config.val_fraction)

    def pretrained_backbone():
        found = find_pretrained(config, cache_dir, backbone_cache, wandb_settings,
                                progress.progress_path(output_dir))
        backbone = load_backbone(found.path, data.image_shape)
        return found, backbone, apply_finetune_policy(backbone, config.effective_finetune)

    steps_per_epoch = config.steps_per_epoch(len(split.train_indices))
    pretrained = None
    if config.method == "ssl" and config.pretrained != "auto":  # a file: cheap to check first
        pretrained, backbone, trainable_layers = pretrained_backbone()
    check_run_dir(output_dir, resume)
    plan.show(plan.train_plan(config, data, len(split.train_indices), len(split.val_indices),
                              steps_per_epoch, plan.describe_backbone(
                                  config, backbone_cache, pretrained and pretrained.path)))
    if config.method == "ssl" and pretrained is None:  # may pretrain it now, into the cache
        pretrained, backbone, trainable_layers = pretrained_backbone()
    runtime.configure(config.seed)
    if config.method == "scratch":
        backbone = build_backbone(data.image_shape, config.backbone,
                                  pool_pixel_mean(data.pool_images, config.backbone.preprocessing))
        trainable_layers = apply_finetune_policy(backbone, config.effective_finetune)
    model = build_classifier(backbone, data.num_classes)

    record = Record(
        kind="train", name=run_name, config=config.as_dict(), provenance=provenance(),
        skipped_files=list(data.skipped_files),
        split={**split.summary(), "dataset_fingerprint": data.fingerprint,
               "pool_size": len(data.pool_labels), "test_size": len(data.test_labels)},
        model={**describe(model), "finetune": config.effective_finetune,
               "trainable_layers": trainable_layers + ["classifier"],
               "backbone": {**dataclasses.asdict(config.backbone),
                            "input_shape": list(data.image_shape)},
               "pretrained": pretrained.summary() if pretrained else None})
    with recorded(output_dir, record, resume), tracking.start_run(
            wandb_settings, job_type="train", name=run_name, config=tracking.flat(config),
            run_dir=output_dir) as run:
        if pretrained is not None:
            tracking.use_backbone_artifact(run, pretrained.reference
                                           if tracking.is_artifact_reference(pretrained.reference)
                                           else None)
        model.compile(optimizer=keras.optimizers.Adam(config.lr),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        best_weights = output_dir / BEST_WEIGHTS_FILE
        callbacks = [
            *runtime.checkpoint_callbacks(output_dir, best_weights, MONITOR, "min", resume,
                                          weights_only=True),
            keras.callbacks.EarlyStopping(monitor=MONITOR, mode="min", patience=config.patience),
            *tracking.metrics_callbacks(run),
            progress.callback([progress.progress_path(output_dir)], "train"),
        ]
        model.fit(
            labelled_dataset(data.pool_images[split.train_indices],
                             data.pool_labels[split.train_indices], config.batch_size, True,
                             config.seed).repeat(),
            steps_per_epoch=steps_per_epoch,
            validation_data=labelled_dataset(data.pool_images[split.val_indices],
                                             data.pool_labels[split.val_indices],
                                             config.batch_size, False, config.seed),
            epochs=config.epochs, callbacks=callbacks, verbose=runtime.fit_verbosity(),
            shuffle=False,  # the pipeline shuffles
        )
        model.load_weights(best_weights)
        runtime.save_model_atomic(model, output_dir / MODEL_FILE)
        record.history = read_history(output_dir / HISTORY_FILE)
        best_row = min(record.history, key=lambda row: row.get(MONITOR, float("inf")))
        record.best_epoch = best_row["epoch"]
        record.best_val_accuracy = best_row.get("val_accuracy")
        record.training = {"steps_per_epoch": steps_per_epoch,
                           "epochs_run": len(record.history),
                           "updates": steps_per_epoch * len(record.history)}
        record.test = evaluate_once(model, data.test_images, data.test_labels, data.class_names,
                                    max(config.batch_size, 256))
        record.files = {"model": MODEL_FILE, "history": HISTORY_FILE,
                        "best_weights": BEST_WEIGHTS_FILE, **_save_figures(model, data,
                                                                           output_dir, run)}
        if run is not None:
            run.summary.update({"test/accuracy": record.test["accuracy"],
                                "test/loss": record.test["loss"],
                                "best_epoch": record.best_epoch,
                                "n_labels": split.n_labels,
                                "trainable_params": record.model["trainable_params"]})
        record.wandb = tracking.run_record(run)
    return record


def _save_figures(model, data, output_dir: Path, run) -> dict[str, str]:
    """Filters and activations of this run's model, as PNGs and W&B images."""
    from sslexp.training.pretrain import figure_files
    from sslexp.viz.run_figures import save_run_figures

    paths = save_run_figures(model, data.test_images[:4], output_dir / FIGURES_DIR, wandb_run=run)
    return figure_files(paths, output_dir)
