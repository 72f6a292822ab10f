"""Tiny stand-in models and sweep directories shaped like `sslexp sweep local` output.

The models follow the naming the real ones use (a nested ``backbone`` with
``stem_conv``, ``stage<N>_out`` and ``pool``), small enough to build and save
in well under a second on a CPU.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml

IMAGE_SHAPE = (8, 8, 1)
FRACTIONS = (0.1, 0.3, 1.0)
FOLDS = (0, 1, 2)
POOL_SIZE = 500
SCRATCH_ACCURACY = {0.1: (0.60, 0.62, 0.64), 0.3: (0.75, 0.77, 0.79), 1.0: (0.90, 0.91, 0.92)}
SSL_ACCURACY = {0.1: (0.70, 0.73, 0.73), 0.3: (0.80, 0.83, 0.83), 1.0: (0.91, 0.93, 0.92)}
FAILED = ("scratch", 0.3, 1)
MISSING = ("ssl", 1.0, 2)
FAILURE_MESSAGE = "out of memory while training"
CLASSES = ("zero", "one")
PROBE_CURVE = (0.50, 0.60, 0.65, 0.64)  # k-NN probe per pretext epoch: best at epoch 3
CAP_HIT = ("scratch", 1.0, 0)  # the run still improving when its cap stopped it


def tiny_backbone(seed: int, input_shape=IMAGE_SHAPE, width: int = 4):
    """A three-stage functional backbone named like the real ResNet's layers."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=input_shape, name="image")
    x = keras.layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    x = keras.layers.Conv2D(width, 3, padding="same", name="stem_conv")(x)
    for stage in range(1, 4):
        x = keras.layers.Conv2D(
            width * stage,
            3,
            strides=1 if stage == 1 else 2,
            padding="same",
            name=f"stage{stage}_conv",
        )(x)
        x = keras.layers.Activation("relu", name=f"stage{stage}_out")(x)
    outputs = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, outputs, name="backbone")


def tiny_classifier(seed: int, classes: int = 3, backbone=None):
    import keras

    backbone = backbone or tiny_backbone(seed)
    inputs = keras.Input(shape=backbone.input_shape[1:], name="image")
    outputs = keras.layers.Dense(classes, activation="softmax", name="classifier")(backbone(inputs))
    return keras.Model(inputs, outputs, name="classifier_model")


def tiny_pretext(seed: int, backbone=None):
    import keras

    backbone = backbone or tiny_backbone(seed)
    inputs = keras.Input(shape=backbone.input_shape[1:], name="image")
    outputs = keras.layers.Dense(4, activation="softmax", name="rotation_head")(backbone(inputs))
    return keras.Model(inputs, outputs, name="rotnet")


def sample_images(count: int = 16, seed: int = 0, shape=IMAGE_SHAPE) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(count, *shape), dtype=np.uint8)


def run_id(method: str, fraction: float, fold: int) -> str:
    return f"{method}-p{fraction:g}-fold{fold}"


def write_pretrain(
    directory: Path, with_models: bool, dataset: str = "digits", image_shape=IMAGE_SHAPE
) -> Path:
    """A pretrain directory with results.json (rotation accuracy history) and checkpoints."""
    directory.mkdir(parents=True, exist_ok=True)
    history = [
        {
            "epoch": epoch,
            "loss": 1.4 - 0.2 * epoch,
            "accuracy": 0.25 + 0.1 * epoch,
            "val_loss": 1.45 - 0.2 * epoch,
            "val_accuracy": 0.24 + 0.1 * epoch,
            "probe_accuracy": PROBE_CURVE[epoch - 1],
        }
        for epoch in range(1, 5)
    ]
    _write_json(
        directory / "results.json",
        {
            "schema": 2,
            "kind": "pretrain",
            "state": "finished",
            "error": None,
            "config": {"dataset": dataset, "image_size": image_shape[0]},
            "history": history,
            "best_epoch": 4,
            "best_val_accuracy": history[-1]["val_accuracy"],
            "data": {"n_pretext_images": 400, "n_val_images": 100, "unlabeled_fraction": 1.0},
            "files": {"backbone": "backbone.keras", "pretext": "pretext.keras"},
        },
    )
    backbone_path = directory / "backbone.keras"
    if with_models:
        pretext = tiny_pretext(seed=7, backbone=tiny_backbone(7, image_shape))
        pretext.save(directory / "pretext.keras")
        pretext.get_layer("backbone").save(backbone_path)
    else:
        backbone_path.write_bytes(b"")
    return backbone_path


def write_sweep(
    root: Path,
    with_models: bool = False,
    with_ledger: bool = True,
    extra_config: dict | None = None,
    dataset: str = "digits",
    image_shape=IMAGE_SHAPE,
) -> Path:
    """A 3 fractions x 2 methods x 3 folds sweep with one failed and one missing run.

    With ``with_models`` the fraction-0.1 fold-0 pair gets real (different)
    checkpoints and the pretrain directory a pretext.keras.
    """
    extra_config = extra_config or {}
    sweep_dir = root / "sweep"
    sweep_dir.mkdir(parents=True)
    backbone_path = write_pretrain(root / "pretrain", with_models, dataset, image_shape)
    parameters = {
        "label_fraction": {"values": list(FRACTIONS)},
        "method": {"values": ["ssl", "scratch"]},
        "fold": {"values": list(FOLDS)},
        "dataset": {"value": dataset},
        "epochs": {"value": 2},
        **{name: {"values": [value]} for name, value in extra_config.items()},
    }
    (sweep_dir / "sweep.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "demo",
                "method": "grid",
                "metric": {"name": "val_accuracy", "goal": "maximize"},
                "parameters": parameters,
            },
            sort_keys=False,
        )
    )
    ledger = {"sweep": "demo", "runs": {}}
    for fraction in FRACTIONS:
        for method in ("ssl", "scratch"):
            for fold in FOLDS:
                if (method, fraction, fold) == MISSING:
                    continue
                identifier = run_id(method, fraction, fold)
                config = {
                    "label_fraction": fraction,
                    "method": method,
                    "fold": fold,
                    "dataset": dataset,
                    "epochs": 2,
                    **extra_config,
                }
                failed = (method, fraction, fold) == FAILED
                accuracy = (SSL_ACCURACY if method == "ssl" else SCRATCH_ACCURACY)[fraction][fold]
                run_dir = sweep_dir / "runs" / identifier
                run_dir.mkdir(parents=True)
                results = _train_results(
                    config,
                    accuracy,
                    failed,
                    backbone_path if method == "ssl" else None,
                    image_shape,
                )
                if with_models and fraction == FRACTIONS[0] and fold == 0:
                    seed = 1 if method == "ssl" else 2
                    tiny_classifier(seed, backbone=tiny_backbone(seed, image_shape)).save(
                        run_dir / "model.keras"
                    )
                    start = tiny_backbone(0, image_shape).get_layer("stem_conv").get_weights()[0]
                    np.save(run_dir / "initial_filters.npy", start)
                    results["files"] = {
                        "model": "model.keras",
                        "initial_filters": "initial_filters.npy",
                    }
                _write_json(run_dir / "results.json", results)
                ledger["runs"][identifier] = {
                    "config": {k: config[k] for k in ("label_fraction", "method", "fold")},
                    "name": identifier,
                    "run_dir": f"runs/{identifier}",
                    "state": "failed" if failed else "finished",
                    "exit_code": 1 if failed else 0,
                    "results_file": f"runs/{identifier}/results.json",
                    "wandb_dir": None,
                    "error": f"exit code 1: RuntimeError: {FAILURE_MESSAGE}" if failed else None,
                }
    if with_ledger:
        _write_json(sweep_dir / "ledger.json", ledger)
    return sweep_dir


def _train_results(
    config: dict, accuracy: float, failed: bool, backbone_path: Path | None, image_shape=IMAGE_SHAPE
) -> dict:
    fraction, fold = config["label_fraction"], config["fold"]
    n_labels = int(round(fraction * POOL_SIZE))
    n_val = int(round(0.15 * n_labels))
    results = {
        "schema": 2,
        "kind": "train",
        "state": "failed" if failed else "finished",
        "error": {"type": "RuntimeError", "message": FAILURE_MESSAGE, "traceback": "..."}
        if failed
        else None,
        "config": {**config, "image_size": image_shape[0], "folds": len(FOLDS), "seed": 0},
        "split": {
            "fingerprint": f"split-{fraction:g}-{fold}",
            "dataset_fingerprint": "digits-abc",
            "n_labels": n_labels,
            "pool_size": POOL_SIZE,
            "n_train": n_labels - n_val,
            "n_val": n_val,
            "labels_per_class": [n_labels // 2, n_labels - n_labels // 2],
            "val_per_class": [n_val // 2, n_val - n_val // 2],
        },
        "model": {
            "pretrained": {
                "path": str(backbone_path),
                "pretext": {"config": {"pretext": {"seed": 0}}},
            }
            if backbone_path
            else None
        },
        "provenance": {
            "versions": {"python": "3.11.2", "keras": "3.15.0", "tensorflow": "2.21.0"},
            "git": {"revision": "0123abcd", "dirty": False},
            "hostname": "testhost",
            "cpu": {"model": "Test CPU", "instruction_set": "AVX2"},
        },
        "started_at": "2026-01-01T00:00:00+00:00",
        "finished_at": "2026-01-01T00:01:00+00:00",
    }
    if not failed:
        # ssl gains 5 points more on class "zero" than on class "one"
        spread = 0.025 if config["method"] == "ssl" else -0.025
        capped = (config["method"], fraction, fold) == CAP_HIT
        results.update(
            best_epoch=3 if capped else 2,
            test={
                "accuracy": accuracy,
                "loss": 1 - accuracy,
                "class_names": list(CLASSES),
                "per_class_accuracy": {"zero": accuracy + spread, "one": accuracy - spread},
                "without_recalibration": {"accuracy": accuracy - 0.05},
            },
            training={
                "budget": "converged",
                "select": "best",
                "updates": 300 if capped else 250,
                "max_updates": 300,
                "epochs_run": 3,
                "max_epochs": 3,
                "cap_hit": capped,
                "best_update": 300 if capped else 200,
            },
            history=[
                {"epoch": 1, "accuracy": accuracy - 0.1},
                {"epoch": 2, "accuracy": accuracy},
                {"epoch": 3, "accuracy": accuracy},
            ],
        )
    return results


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=1))
