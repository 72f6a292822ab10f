"""RotNet pretraining: backbone + rotation head on the unlabelled pool."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import time
from pathlib import Path

import numpy as np

from sslexp.models import BackboneConfig
from sslexp.results import RESULTS_FILE, error_record, now, read_history, write_json_atomic
from sslexp.rotation import ROTATION_MODES
from sslexp.tracking import WandbSettings

BACKBONE_FILE = "backbone.keras"
PRETEXT_FILE = "pretext.keras"


@dataclasses.dataclass(frozen=True)
class PretrainConfig:
    """Everything that determines a pretrained backbone (and so its cache key)."""

    dataset: str = "digits"
    image_size: int = 32
    backbone: BackboneConfig = BackboneConfig()
    rotations: str = "all"
    unlabeled_fraction: float = 1.0
    val_fraction: float = 0.1
    epochs: int = 15
    batch_size: int = 64
    lr: float = 1e-3
    seed: int = 0

    def __post_init__(self):
        from sslexp.errors import InputError

        if self.rotations not in ROTATION_MODES:
            raise InputError("--rotations", self.rotations, f"allowed: {', '.join(ROTATION_MODES)}.")
        for option, value in (("--epochs", self.epochs), ("--batch-size", self.batch_size)):
            if value < 1:
                raise InputError(option, value, "must be at least 1.")

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()[:10]

    def directory_name(self) -> str:
        from sslexp.data.registry import dataset_slug

        b = self.backbone
        return (f"{dataset_slug(self.dataset)}-{self.image_size}px-resnet{b.depth}w{b.width}"
                f"-{self.key()}")


def run_pretraining(config: PretrainConfig, output_dir: Path, cache_dir: Path,
                    wandb_settings: WandbSettings = WandbSettings(), resume: bool = False) -> dict:
    """Pretrain, keep the epoch with the best validation rotation accuracy, save the backbone."""
    import keras

    from sslexp import runtime, tracking
    from sslexp.data import load_dataset
    from sslexp.models import (build_backbone, build_pretext_model, check_image_size, describe,
                               pool_pixel_mean)
    from sslexp.provenance import provenance
    from sslexp.rotation import rotation_dataset
    from sslexp.splits import pretext_split
    from sslexp.visualize import save_pretext_figures

    started = time.time()
    check_image_size(config.image_size)
    runtime.configure(config.seed)
    data = load_dataset(config.dataset, config.image_size, cache_dir)
    train_indices, val_indices = pretext_split(len(data.pool_images), config.unlabeled_fraction,
                                               config.val_fraction, config.seed)
    output_dir = Path(output_dir)
    backup_dir = output_dir / "backup"
    if not resume and backup_dir.exists():
        shutil.rmtree(backup_dir)
    results = {
        "schema": 1, "kind": "pretrain", "state": "running", "error": None,
        "config": config.as_dict(), "key": config.key(), "started_at": now(),
        "data": {"dataset_fingerprint": data.fingerprint, "n_pretext_images": len(train_indices),
                 "n_val_images": len(val_indices), "unlabeled_fraction": config.unlabeled_fraction,
                 "pool_size": len(data.pool_images)},
        "provenance": provenance(),
    }
    write_json_atomic(output_dir / RESULTS_FILE, results)
    try:
        with tracking.start_run(wandb_settings, job_type="pretrain",
                                name=f"pretrain-{config.directory_name()}",
                                config=results["config"], run_dir=output_dir) as run:
            backbone = build_backbone(
                data.image_shape, config.backbone,
                pool_pixel_mean(data.pool_images, config.backbone.preprocessing))
            model = build_pretext_model(backbone)
            model.compile(optimizer=keras.optimizers.Adam(config.lr),
                          loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            train_data = rotation_dataset(data.pool_images[train_indices], config.batch_size,
                                          config.rotations, shuffle=True, seed=config.seed)
            val_data = rotation_dataset(data.pool_images[val_indices], config.batch_size, "all",
                                        shuffle=False, seed=config.seed)
            best_path = output_dir / PRETEXT_FILE
            history_path = output_dir / "history.csv"
            callbacks = [
                *runtime.checkpoint_callbacks(output_dir, best_path, "val_accuracy", "max",
                                              resume, weights_only=False),
                *tracking.metrics_callbacks(run),
            ]
            model.fit(train_data, validation_data=val_data, epochs=config.epochs,
                      callbacks=callbacks, verbose=runtime.fit_verbosity(),
                      shuffle=False)  # the tf.data pipeline shuffles
            best = keras.saving.load_model(best_path, compile=False)
            runtime.save_model_atomic(best.get_layer("backbone"), output_dir / BACKBONE_FILE)
            figures = save_pretext_figures(best, data.pool_images[val_indices][:8],
                                           output_dir / "figures", wandb_run=run)
            history = read_history(history_path)
            best_row = max(history, key=lambda row: row.get("val_accuracy", float("-inf")))
            results.update(
                history=history, best_epoch=best_row["epoch"],
                best_val_accuracy=best_row.get("val_accuracy"),
                model={**describe(model), "backbone": dataclasses.asdict(config.backbone),
                       "input_shape": list(data.image_shape)},
                files=[BACKBONE_FILE, PRETEXT_FILE, "history.csv",
                       *(str(Path(p).relative_to(output_dir)) for p in figures)],
            )
            if run is not None:
                run.summary.update({"best_val_rotation_accuracy": results["best_val_accuracy"],
                                    "best_epoch": results["best_epoch"]})
                results["artifact"] = tracking.log_model_artifact(
                    run, output_dir / BACKBONE_FILE, f"backbone-{config.key()}",
                    metadata=results["config"])
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
