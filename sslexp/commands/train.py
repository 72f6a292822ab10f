"""``sslexp train``: one downstream run, as a W&B sweep agent would start it."""

from __future__ import annotations

import os
from pathlib import Path

import click

from sslexp.commands.common import (backbone_options, data_options, user_errors,
                                    wandb_options)
from sslexp.models import FINETUNE_HELP
from sslexp.options import CONTEXT_SETTINGS, config_option, flag, option


@click.command(context_settings=CONTEXT_SETTINGS)
@config_option
@option("--method", type=click.Choice(["ssl", "scratch"]), default="ssl",
        help="ssl: start from the pretrained backbone and fine-tune; scratch: same "
             "architecture, random init, same budget.")
@option("--label-fraction", type=click.FloatRange(0, 1, min_open=True), default=0.1,
        help="Share of the pool whose labels are used, in (0, 1].")
@option("--fold", type=click.IntRange(min=0), default=0,
        help="Which labelled subset (0..folds-1); different folds give different subsets.")
@option("--folds", type=click.IntRange(min=2), default=5, help="Number of folds of the pool.")
@option("--seed", type=int, default=0, help="Seed for subsets, init and data order.")
@data_options
@backbone_options
@option("--pretrained", default="auto",
        help="ssl only. auto: the backbone pretrained with the --pretext-* options (pretrained "
             "once on first use, then cached); a path to backbone.keras; or a W&B artifact "
             "reference (entity/project/name:alias, online).")
@option("--finetune", default="full", help=f"ssl fine-tune policy. {FINETUNE_HELP}.")
@option("--epochs", type=click.IntRange(min=1), default=30, help="Maximum epochs.")
@option("--batch-size", type=click.IntRange(min=1), default=32, help="Batch size.")
@option("--lr", type=click.FloatRange(0, min_open=True), default=1e-3, help="Adam learning rate.")
@option("--val-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.2,
        help="Share of the labelled subset used to select the epoch (at least 1 per class).")
@option("--patience", type=click.IntRange(min=1), default=10,
        help="Stop after this many epochs without a better validation loss.")
@option("--min-steps", type=click.IntRange(min=0), default=0,
        help="At least this many optimizer steps in all: small labelled subsets are repeated "
             "within an epoch (same rule for ssl and scratch); 0: one pass an epoch.")
@option("--pretext-epochs", type=click.IntRange(min=1), default=15,
        help="auto backbone: pretext epochs.")
@option("--pretext-rotations", type=click.Choice(["all", "random"]), default="all",
        help="auto backbone: rotation mode.")
@option("--unlabeled-fraction", type=click.FloatRange(0, 1, min_open=True), default=1.0,
        help="auto backbone: share of the pool used for pretraining.")
@option("--pretext-batch-size", type=click.IntRange(min=1), default=64,
        help="auto backbone: source images per batch.")
@option("--pretext-lr", type=click.FloatRange(0, min_open=True), default=1e-3,
        help="auto backbone: Adam learning rate.")
@option("--backbone-cache", type=click.Path(file_okay=False, path_type=Path),
        default=Path("artifacts/backbones"), help="auto backbone: where backbones are cached.")
@option("--output-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
        show_default=False,
        help="Run directory. Default: runs/<run name> (plus the W&B run id under an agent).")
@option("--run-name", default=None, show_default=False,
        help="Default: <dataset>-<method>-p<fraction>-fold<fold>-seed<seed>.")
@flag("--resume", False, "Continue an interrupted run from its last completed epoch.")
@wandb_options
@user_errors
def train(method, label_fraction, fold, folds, seed, dataset, image_size, cache_dir, depth, width,
          preprocessing, pretrained, finetune, epochs, batch_size, lr, val_fraction, patience,
          min_steps, pretext_epochs, pretext_rotations, unlabeled_fraction, pretext_batch_size,
          pretext_lr, backbone_cache, output_dir, run_name, resume, wandb_mode, project, entity, group):
    """Train one run (label fraction x method x fold), then test it once.

    A validation split carved from the labelled subset selects the epoch; the
    test split is evaluated exactly once at the end. Writes results.json
    (config, history, test metrics, split fingerprint, versions, state) and
    model.keras to the run directory.
    """
    from sslexp.models import BackboneConfig
    from sslexp.pretrain import PretrainConfig
    from sslexp.tracking import WandbSettings
    from sslexp.train import TrainConfig, run_training

    backbone = BackboneConfig(depth=depth, width=width, preprocessing=preprocessing)
    config = TrainConfig(
        dataset=dataset, image_size=image_size, backbone=backbone, method=method,
        label_fraction=label_fraction, fold=fold, folds=folds, seed=seed, pretrained=pretrained,
        finetune=finetune, epochs=epochs, batch_size=batch_size, lr=lr,
        val_fraction=val_fraction, patience=patience, min_steps=min_steps,
        pretext=PretrainConfig(dataset=dataset, image_size=image_size, backbone=backbone,
                               rotations=pretext_rotations, unlabeled_fraction=unlabeled_fraction,
                               epochs=pretext_epochs, batch_size=pretext_batch_size,
                               lr=pretext_lr, seed=seed),
    )
    run_name = run_name or config.default_run_name()
    if output_dir is None:
        # Under `wandb agent`, runs of different sweeps may share a grid point: keep them apart.
        run_id = os.environ.get("WANDB_RUN_ID")
        output_dir = Path("runs") / (f"{run_name}-{run_id}" if run_id else run_name)
    results = run_training(config, output_dir, cache_dir, backbone_cache,
                           WandbSettings(wandb_mode, project, entity, group), run_name, resume)
    test = results["test"]
    click.echo(f"{run_name}: test accuracy {test['accuracy']:.4f} (loss {test['loss']:.4f}) with "
               f"{results['split']['n_labels']} labels; best epoch {results['best_epoch']}; "
               f"results in {output_dir / 'results.json'}")
