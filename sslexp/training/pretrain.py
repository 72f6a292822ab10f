"""RotNet pretraining: backbone + rotation head on the unlabelled pool."""

from __future__ import annotations

from pathlib import Path

import keras

from sslexp.config import PretrainConfig
from sslexp.data import load_dataset
from sslexp.data.pipelines import RotationBatches, rotation_model
from sslexp.data.splits import pretext_split
from sslexp.models import BACKBONE, build_backbone, build_pretext_model, describe, pool_pixel_mean
from sslexp.runs.lifecycle import check_run_dir
from sslexp.runs.protocol import (
    BACKBONE_KEY,
    PRETRAIN_JOB,
    backbone_artifact_name,
    pretrain_summary,
    progress_path,
)
from sslexp.runs.provenance import provenance
from sslexp.runs.record import (
    BACKBONE_FILE,
    FIGURES_DIR,
    HISTORY_FILE,
    PRETEXT_FILE,
    RESULTS_FILE,
    Record,
    read_history,
)
from sslexp.training import plan, runtime, tracking
from sslexp.training.progress import ProgressCallback
from sslexp.training.representation_probe import PROBE_METRIC, pretext_callbacks, still_improving
from sslexp.training.timing import StepTimer
from sslexp.training.tracking import WandbSettings
from sslexp.viz.run_figures import figure_files, save_pretext_figures

MONITOR = "val_accuracy"  # rotation accuracy on the held-out slice of the pool


def run_pretraining(
    config: PretrainConfig,
    output_dir: Path,
    cache_dir: Path,
    wandb_settings: WandbSettings = WandbSettings(),
    resume: bool = False,
    on_wandb_start=None,
    progress_to: Path | None = None,
) -> Record:
    """Pretrain, keep the epoch with the best validation rotation accuracy, save the backbone.

    Every input is checked before anything is written to ``output_dir``. The
    backbone and this record are logged as the W&B model artifact
    ``backbone-<key>``; ``on_wandb_start(run)`` may stop the run before it
    writes anything (see ``sslexp.training.shared_backbones``). Progress goes to
    the run's own progress file and to ``progress_to`` (that of a train run
    waiting for this backbone). The seconds of each named step go to
    ``record.timings``.
    """
    pretext, output_dir, timer = config.pretext, Path(output_dir), StepTimer()
    with timer.step("data"):
        data = load_dataset(config.dataset, config.image_size, cache_dir)
        train_indices, val_indices = pretext_split(
            len(data.pool_images), pretext.unlabeled_fraction, pretext.val_fraction, pretext.seed
        )
    check_run_dir(output_dir, resume)
    plan.show(plan.pretrain_plan(config, data, len(train_indices), len(val_indices), output_dir))
    with timer.step("model"):
        ran_on = runtime.configure(pretext.seed, config.precision, cache_dir)
        model = build_pretext_model(
            build_backbone(
                data.image_shape,
                config.backbone,
                pool_pixel_mean(data.pool_images, config.backbone.preprocessing),
            )
        )
    learning_rate = runtime.scaled_learning_rate(
        pretext.lr, pretext.batch_size, pretext.lr_reference_batch, pretext.lr_scaling
    )
    record = Record(
        kind="pretrain",
        name=f"pretrain-{config.directory_name()}",
        config=config.as_dict(),
        key=config.key(),
        provenance=provenance(),
        skipped_files=list(data.skipped_files),
        data={
            "dataset_fingerprint": data.fingerprint,
            "pool_size": len(data.pool_images),
            "n_pretext_images": len(train_indices),
            "n_val_images": len(val_indices),
            "unlabeled_fraction": pretext.unlabeled_fraction,
        },
        model={
            **describe(model),
            "input_shape": list(data.image_shape),
            "runtime": {**ran_on.summary(), "learning_rate": learning_rate},
        },
        timings=timer.seconds,
    )
    with tracking.tracked_run(
        wandb_settings,
        record,
        output_dir,
        resume,
        job_type=PRETRAIN_JOB,
        config={**tracking.flat(config), BACKBONE_KEY: config.key()},
        on_start=on_wandb_start,
        upload=(PRETEXT_FILE,),
        artifact=tracking.ArtifactSpec(
            backbone_artifact_name(config.key()),
            (BACKBONE_FILE, RESULTS_FILE),
            metadata=record.config,
        ),
    ) as run:
        with timer.step("compile"):
            trainer = runtime.compile_model(
                rotation_model(model, pretext.rotations),
                keras.optimizers.Adam(learning_rate),
                "sparse_categorical_crossentropy",
                ["accuracy"],
            )
        with timer.step("fit"):
            steps_per_epoch = _fit(
                trainer,
                model.name,
                config,
                data,
                train_indices,
                val_indices,
                output_dir,
                resume,
                progress_to,
                run,
            )
        with timer.step("select"):
            best = _select(record, output_dir, steps_per_epoch)
        with timer.step("save"):
            runtime.save_model_atomic(best.get_layer(BACKBONE), output_dir / BACKBONE_FILE)
            figures = save_pretext_figures(
                best, data.pool_images[val_indices][:8], output_dir / FIGURES_DIR, wandb_run=run
            )
            record.files = {
                "backbone": BACKBONE_FILE,
                "pretext": PRETEXT_FILE,
                "history": HISTORY_FILE,
                **figure_files(figures, output_dir),
            }
        record.wandb = tracking.mirror_summary(run, pretrain_summary(record))
    return record


def _fit(
    trainer,
    pretext_model_name: str,
    config: PretrainConfig,
    data,
    train_indices,
    val_indices,
    output_dir: Path,
    resume: bool,
    progress_to: Path | None,
    run,
) -> int:
    """``pretext.epochs`` passes over the pretext images (or ``pretext.updates`` spread over
    them), rotated on the device, each followed by a validation on all four rotations of
    the held-out images and the representation probe. Returns the updates per epoch."""
    pretext = config.pretext
    train_data = RotationBatches(
        data.pool_images[train_indices],
        pretext.batch_size,
        pretext.rotations,
        shuffle=True,
        seed=pretext.seed,
        endless=True,
    )
    val_data = RotationBatches(
        data.pool_images[val_indices], pretext.batch_size, "all", model_mode=pretext.rotations
    )
    pretext_model = trainer.get_layer(pretext_model_name)
    callbacks = [  # the probe first: it adds to the logs the others record
        *pretext_callbacks(
            pretext_model,
            pretext_model.get_layer(BACKBONE),
            data.pool_images,
            data.pool_labels,
            train_indices,
            val_indices,
            pretext.probe_images,
            pretext.seed,
        ),
        *runtime.checkpoint_callbacks(
            output_dir,
            output_dir / PRETEXT_FILE,
            MONITOR,
            "max",
            resume,
            weights_only=False,
            saved_layer=pretext_model_name,
        ),
        *tracking.metrics_callbacks(run),
        ProgressCallback(
            [progress_path(output_dir), *([progress_to] if progress_to else [])],
            "pretrain",
            detail=f"pretraining {output_dir.name}",
        ),
    ]
    steps_per_epoch = pretext.steps_per_epoch(train_data.steps_per_pass())
    trainer.fit(
        train_data,
        steps_per_epoch=steps_per_epoch,
        validation_data=val_data,
        epochs=pretext.epochs,
        callbacks=callbacks,
        verbose=runtime.fit_verbosity(),
        shuffle=False,
    )  # the pipeline shuffles
    return steps_per_epoch


def _select(record: Record, output_dir: Path, steps_per_epoch: int):
    """The pretext model of the epoch with the best validation rotation accuracy; the
    record's history, best epoch and ``training`` section."""
    record.history = read_history(output_dir / HISTORY_FILE)
    best_row = max(record.history, key=lambda row: row.get(MONITOR, float("-inf")))
    record.best_epoch = best_row["epoch"]
    record.best_val_accuracy = best_row.get(MONITOR)
    probe = [row[PROBE_METRIC] for row in record.history if PROBE_METRIC in row]
    record.training = {
        "epochs_run": len(record.history),
        "best_epoch": record.best_epoch,
        "steps_per_epoch": steps_per_epoch,
        "updates": steps_per_epoch * len(record.history),
        "best_probe_accuracy": max(probe) if probe else None,
        # best probe at the last epoch: more pretraining would likely help
        "still_improving": still_improving(record.history, MONITOR),
    }
    return keras.saving.load_model(output_dir / PRETEXT_FILE, compile=False)
