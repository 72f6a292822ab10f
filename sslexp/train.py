"""One downstream run: (label fraction, method, fold) -> fit -> one test evaluation.

The validation split, carved from the labelled subset, selects the epoch; the
test split is evaluated exactly once, at the end, with the selected weights.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import time
from pathlib import Path

import numpy as np

from sslexp.models import BackboneConfig, parse_finetune
from sslexp.pretrain import PretrainConfig
from sslexp.results import RESULTS_FILE, error_record, now, read_history, write_json_atomic
from sslexp.tracking import WandbSettings

METHODS = ("ssl", "scratch")
MODEL_FILE = "model.keras"
MONITOR = "val_loss"


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    dataset: str = "digits"
    image_size: int = 32
    backbone: BackboneConfig = BackboneConfig()
    method: str = "ssl"
    label_fraction: float = 0.1
    fold: int = 0
    folds: int = 5
    seed: int = 0
    pretrained: str = "auto"
    finetune: str = "full"
    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    val_fraction: float = 0.2
    patience: int = 10
    min_steps: int = 0
    pretext: PretrainConfig | None = None  # what `--pretrained auto` pretrains or finds

    def __post_init__(self):
        from sslexp.errors import InputError

        if self.method not in METHODS:
            raise InputError("--method", self.method, f"allowed: {', '.join(METHODS)}.")
        parse_finetune(self.finetune)
        for option, value in (("--epochs", self.epochs), ("--batch-size", self.batch_size),
                              ("--patience", self.patience)):
            if value < 1:
                raise InputError(option, value, "must be at least 1.")

    @property
    def effective_finetune(self) -> str:
        """Scratch trains everything: same architecture, random init, same budget."""
        return self.finetune if self.method == "ssl" else "full"

    def steps_per_epoch(self, n_train: int) -> int:
        """One pass over the labelled subset, or more (the data repeats) when that is
        fewer than ``min_steps / epochs`` updates: tiny subsets still train, with
        the same rule for ssl and scratch, and validation still runs once an epoch."""
        one_pass = max(1, math.ceil(n_train / self.batch_size))
        return max(one_pass, math.ceil(self.min_steps / self.epochs))

    def default_run_name(self) -> str:
        from sslexp.data.registry import dataset_slug

        return (f"{dataset_slug(self.dataset)}-{self.method}-p{self.label_fraction:g}"
                f"-fold{self.fold}-seed{self.seed}")

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def resolve_backbone(config: TrainConfig, data, cache_dir: Path, backbone_cache: Path, run):
    """The backbone for this run and a record of where it came from."""
    from sslexp import tracking
    from sslexp.backbones import ensure_backbone
    from sslexp.models import build_backbone, load_backbone, pool_pixel_mean

    if config.method == "scratch":
        mean = pool_pixel_mean(data.pool_images, config.backbone.preprocessing)
        return build_backbone(data.image_shape, config.backbone, mean), None
    if config.pretrained == "auto":
        path = ensure_backbone(config.pretext, backbone_cache, cache_dir,
                               WandbSettings(mode="disabled"))
    elif tracking.is_artifact_reference(config.pretrained):
        path = tracking.download_backbone_artifact(run, config.pretrained)
    else:
        path = Path(config.pretrained)
    backbone = load_backbone(path, data.image_shape)
    pretext_results = _read_json(Path(path).parent / RESULTS_FILE)
    _check_same_architecture(config, pretext_results, path)
    return backbone, {"path": str(Path(path).resolve()), "reference": config.pretrained,
                      "pretext": _pretext_summary(pretext_results)}


def _check_same_architecture(config: TrainConfig, pretext_results: dict | None, path) -> None:
    """ssl and scratch must share an architecture, or the comparison is not fair."""
    from sslexp.errors import InputError

    if not pretext_results:
        return
    trained = pretext_results.get("config", {}).get("backbone", {})
    wanted = dataclasses.asdict(config.backbone)
    different = {k: (trained[k], v) for k, v in wanted.items() if k in trained and trained[k] != v}
    if different:
        detail = ", ".join(f"{k}: checkpoint {a} vs run {b}" for k, (a, b) in different.items())
        raise InputError("--pretrained", str(path),
                         f"was pretrained with another architecture ({detail}); pass the same "
                         "--depth/--width/--preprocessing as `sslexp pretrain` used.")


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _pretext_summary(results: dict | None) -> dict | None:
    if not results:
        return None
    return {key: results.get(key) for key in ("key", "config", "best_epoch", "best_val_accuracy")}


def make_dataset(images: np.ndarray, labels: np.ndarray, batch_size: int, shuffle: bool,
                 seed: int):
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices((images, labels))
    if shuffle:
        data = data.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size).map(lambda x, y: (tf.cast(x, tf.float32), y),
                                      num_parallel_calls=tf.data.AUTOTUNE)
    return data.prefetch(tf.data.AUTOTUNE)


def evaluate_once(model, images: np.ndarray, labels: np.ndarray, class_names, batch_size: int) -> dict:
    """Test metrics from one pass over the test split."""
    from sklearn.metrics import confusion_matrix

    probabilities = model.predict(make_dataset(images, labels, batch_size, False, 0), verbose=0)
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
                 resume: bool = False) -> dict:
    """Train, select the epoch on validation, test once, write results.json atomically.

    Inputs are checked (data set, split, pretrained backbone) before anything
    is written, so bad input never damages an earlier run's files.
    """
    import keras

    from sslexp import runtime, tracking
    from sslexp.data import load_dataset
    from sslexp.errors import InputError
    from sslexp.models import apply_finetune_policy, build_classifier, check_image_size, describe
    from sslexp.provenance import provenance
    from sslexp.splits import label_split

    started = time.time()
    check_image_size(config.image_size)
    runtime.configure(config.seed)
    output_dir = Path(output_dir)
    run_name = run_name or config.default_run_name()
    data = load_dataset(config.dataset, config.image_size, cache_dir)
    split = label_split(data.pool_labels, config.label_fraction, config.fold, config.folds,
                        config.seed, config.val_fraction)
    results = {
        "schema": 1, "kind": "train", "state": "running", "error": None,
        "config": {**config.as_dict(), "run_name": run_name, "output_dir": str(output_dir),
                   "wandb": dataclasses.asdict(wandb_settings)},
        "split": {**split.summary(), "dataset_fingerprint": data.fingerprint,
                  "pool_size": len(data.pool_labels), "test_size": len(data.test_labels)},
        "started_at": now(),
        "provenance": provenance(),
    }
    with tracking.start_run(wandb_settings, job_type="train", name=run_name,
                            config=_flat_config(results["config"]), run_dir=output_dir) as run:
        try:
            backbone, pretrained = resolve_backbone(config, data, cache_dir, backbone_cache, run)
        except InputError:
            raise  # bad input: leave whatever is in output_dir untouched
        except Exception as error:
            results.update(state="failed", error=error_record(error), finished_at=now())
            write_json_atomic(output_dir / RESULTS_FILE, results)
            raise
        backup_dir = output_dir / "backup"
        if not resume and backup_dir.exists():
            shutil.rmtree(backup_dir)
        write_json_atomic(output_dir / RESULTS_FILE, results)
        try:
            trainable_layers = apply_finetune_policy(backbone, config.effective_finetune)
            model = build_classifier(backbone, data.num_classes)
            model.compile(optimizer=keras.optimizers.Adam(config.lr),
                          loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            results["model"] = {**describe(model), "finetune": config.effective_finetune,
                                "trainable_layers": trainable_layers + ["classifier"],
                                "backbone": {**dataclasses.asdict(config.backbone),
                                             "input_shape": list(data.image_shape)},
                                "pretrained": pretrained}
            best_weights = output_dir / "best.weights.h5"
            history_path = output_dir / "history.csv"
            callbacks = [
                *runtime.checkpoint_callbacks(output_dir, best_weights, MONITOR, "min", resume,
                                              weights_only=True),
                keras.callbacks.EarlyStopping(monitor=MONITOR, mode="min",
                                              patience=config.patience),
                *tracking.metrics_callbacks(run),
            ]
            steps_per_epoch = config.steps_per_epoch(len(split.train_indices))
            results["steps_per_epoch"] = steps_per_epoch
            train_images = data.pool_images[split.train_indices]
            train_labels = data.pool_labels[split.train_indices]
            model.fit(
                make_dataset(train_images, train_labels, config.batch_size, True,
                             config.seed).repeat(),
                steps_per_epoch=steps_per_epoch,
                validation_data=make_dataset(data.pool_images[split.val_indices],
                                             data.pool_labels[split.val_indices],
                                             config.batch_size, False, config.seed),
                epochs=config.epochs, callbacks=callbacks, verbose=runtime.fit_verbosity(),
                shuffle=False,  # the tf.data pipeline shuffles
            )
            model.load_weights(best_weights)
            runtime.save_model_atomic(model, output_dir / MODEL_FILE)
            history = read_history(history_path)
            best_row = min(history, key=lambda row: row.get(MONITOR, float("inf")))
            results.update(history=history, best_epoch=best_row["epoch"],
                           best_val_accuracy=best_row.get("val_accuracy"))
            results["test"] = evaluate_once(model, data.test_images, data.test_labels,
                                            data.class_names, max(config.batch_size, 256))
            results["files"] = [MODEL_FILE, "history.csv", "best.weights.h5"]
            results["files"] += _save_figures(model, data, output_dir, run)
            if run is not None:
                run.summary.update({"test/accuracy": results["test"]["accuracy"],
                                    "test/loss": results["test"]["loss"],
                                    "best_epoch": results["best_epoch"],
                                    "n_labels": split.n_labels,
                                    "trainable_params": results["model"]["trainable_params"]})
            results["wandb"] = tracking.run_record(run)
            shutil.rmtree(backup_dir, ignore_errors=True)
            results["state"] = "finished"
        except KeyboardInterrupt as error:
            results.update(state="interrupted", error=error_record(error))
            raise
        except Exception as error:
            results.update(state="failed", error=error_record(error))
            raise
        finally:
            results.update(finished_at=now(), wall_time_s=round(time.time() - started, 2))
            write_json_atomic(output_dir / RESULTS_FILE, results)
    return results


def _flat_config(config: dict, prefix: str = "") -> dict:
    """Nested config as flat W&B keys (backbone.depth -> depth) so panels can group by them."""
    flat = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(_flat_config(value, f"{key}." if key not in ("backbone",) else ""))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _save_figures(model, data, output_dir: Path, run) -> list[str]:
    """Filters and activations of this run's model, as PNGs and W&B images."""
    from sslexp.visualize import save_run_figures

    paths = save_run_figures(model, data.test_images[:4], output_dir / "figures", wandb_run=run)
    return [str(Path(p).relative_to(output_dir)) for p in paths]
