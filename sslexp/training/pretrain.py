"""RotNet pretraining: backbone + rotation head on the unlabelled pool."""

from __future__ import annotations

from pathlib import Path

from sslexp.config import PretrainConfig
from sslexp.runs.lifecycle import check_run_dir
from sslexp.runs.record import (BACKBONE_FILE, FIGURES_DIR, HISTORY_FILE, PRETEXT_FILE,
                                RESULTS_FILE, Record, read_history)
from sslexp.training.tracking import WandbSettings

MONITOR = "val_accuracy"  # rotation accuracy on the held-out slice of the pool


def run_pretraining(config: PretrainConfig, output_dir: Path, cache_dir: Path,
                    wandb_settings: WandbSettings = WandbSettings(),
                    resume: bool = False, on_wandb_start=None,
                    progress_to: Path | None = None) -> Record:
    """Pretrain, keep the epoch with the best validation rotation accuracy, save the backbone.

    Every input is checked before anything is written to ``output_dir``. The
    backbone and this record are logged as the W&B model artifact
    ``backbone-<key>``; ``on_wandb_start(run)`` may stop the run before it
    writes anything (see ``sslexp.training.shared_backbones``). Progress goes to
    the run's own progress file and to ``progress_to`` (that of a train run
    waiting for this backbone).
    """
    import keras

    from sslexp.data import load_dataset
    from sslexp.data.pipelines import RotationBatches, rotation_model
    from sslexp.data.splits import pretext_split
    from sslexp.models import build_backbone, build_pretext_model, describe, pool_pixel_mean
    from sslexp.runs.provenance import provenance
    from sslexp.training import plan, progress, runtime, tracking
    from sslexp.viz.run_figures import save_pretext_figures
    from sslexp.training.representation_probe import (PROBE_METRIC, pretext_callbacks,
                                                       still_improving)

    pretext = config.pretext
    output_dir = Path(output_dir)
    data = load_dataset(config.dataset, config.image_size, cache_dir)
    train_indices, val_indices = pretext_split(len(data.pool_images), pretext.unlabeled_fraction,
                                               pretext.val_fraction, pretext.seed)
    check_run_dir(output_dir, resume)
    plan.show(plan.pretrain_plan(config, data, len(train_indices), len(val_indices), output_dir))
    ran_on = runtime.configure(pretext.seed, config.precision, cache_dir)
    learning_rate = runtime.scaled_learning_rate(pretext.lr, pretext.batch_size,
                                                 pretext.lr_reference_batch, pretext.lr_scaling)
    record = Record(
        kind="pretrain", name=f"pretrain-{config.directory_name()}", config=config.as_dict(),
        key=config.key(), provenance=provenance(), skipped_files=list(data.skipped_files),
        data={"dataset_fingerprint": data.fingerprint, "pool_size": len(data.pool_images),
              "n_pretext_images": len(train_indices), "n_val_images": len(val_indices),
              "unlabeled_fraction": pretext.unlabeled_fraction})
    with tracking.tracked_run(
            wandb_settings, record, output_dir, resume, job_type=tracking.PRETRAIN_JOB,
            config={**tracking.flat(config), tracking.BACKBONE_KEY: config.key()},
            on_start=on_wandb_start, upload=(PRETEXT_FILE,), artifact=tracking.ArtifactSpec(
                tracking.backbone_artifact_name(config.key()), (BACKBONE_FILE, RESULTS_FILE),
                metadata=record.config)) as run:
        backbone = build_backbone(data.image_shape, config.backbone,
                                  pool_pixel_mean(data.pool_images, config.backbone.preprocessing))
        model = build_pretext_model(backbone)
        trainer = rotation_model(model, pretext.rotations)  # rotates on the device
        trainer = runtime.compile_model(trainer, keras.optimizers.Adam(learning_rate),
                                        "sparse_categorical_crossentropy", ["accuracy"])
        train_data = RotationBatches(data.pool_images[train_indices], pretext.batch_size,
                                     pretext.rotations, shuffle=True, seed=pretext.seed,
                                     endless=True)
        val_data = RotationBatches(data.pool_images[val_indices], pretext.batch_size, "all",
                                   model_mode=pretext.rotations)
        best_path = output_dir / PRETEXT_FILE
        callbacks = [
            *pretext_callbacks(model, backbone, data.pool_images, data.pool_labels,
                               train_indices, val_indices, pretext.probe_images, pretext.seed),
            *runtime.checkpoint_callbacks(output_dir, best_path, MONITOR, "max", resume,
                                          weights_only=False, saved_layer=model.name),
            *tracking.metrics_callbacks(run),
            progress.callback([progress.progress_path(output_dir),
                               *([progress_to] if progress_to else [])], "pretrain",
                              detail=f"pretraining {output_dir.name}"),
        ]
        steps_per_epoch = pretext.steps_per_epoch(train_data.steps_per_pass())
        trainer.fit(train_data, steps_per_epoch=steps_per_epoch,
                    validation_data=val_data, epochs=pretext.epochs, callbacks=callbacks,
                    verbose=runtime.fit_verbosity(), shuffle=False)  # the pipeline shuffles
        best = keras.saving.load_model(best_path, compile=False)
        runtime.save_model_atomic(best.get_layer("backbone"), output_dir / BACKBONE_FILE)
        figures = save_pretext_figures(best, data.pool_images[val_indices][:8],
                                       output_dir / FIGURES_DIR, wandb_run=run)
        record.history = read_history(output_dir / HISTORY_FILE)
        best_row = max(record.history, key=lambda row: row.get(MONITOR, float("-inf")))
        record.best_epoch = best_row["epoch"]
        record.best_val_accuracy = best_row.get(MONITOR)
        probe = [row.get(PROBE_METRIC) for row in record.history if PROBE_METRIC in row]
        record.training = {"epochs_run": len(record.history), "best_epoch": record.best_epoch,
                           "steps_per_epoch": steps_per_epoch,
                           "updates": steps_per_epoch * len(record.history),
                           "best_probe_accuracy": max(probe) if probe else None,
                           # best probe at the last epoch: more pretraining would likely help
                           "still_improving": still_improving(record.history, MONITOR)}
        record.model = {**describe(model), "input_shape": list(data.image_shape),
                        "runtime": {**ran_on.summary(), "learning_rate": learning_rate}}
        record.files = {"backbone": BACKBONE_FILE, "pretext": PRETEXT_FILE,
                        "history": HISTORY_FILE, **figure_files(figures, output_dir)}
        if run is not None:
            run.summary.update({"best_probe_accuracy": record.training["best_probe_accuracy"],
                                "best_val_rotation_accuracy": record.best_val_accuracy,
                                "best_epoch": record.best_epoch})
        record.wandb = tracking.run_record(run)
    return record


def figure_files(paths, run_dir: Path) -> dict[str, str]:
    """Figure paths as record ``files`` entries (role = path without its suffix)."""
    relative = [Path(path).relative_to(run_dir) for path in paths]
    return {path.with_suffix("").as_posix(): path.as_posix() for path in relative}
