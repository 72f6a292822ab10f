"""``sslexp pretrain``: RotNet pretext training of the backbone."""

from __future__ import annotations

from pathlib import Path

import click

from sslexp.commands.common import (backbone_options, data_options, user_errors,
                                    wandb_options)
from sslexp.options import CONTEXT_SETTINGS, config_option, flag, option


@click.command(context_settings=CONTEXT_SETTINGS)
@config_option
@data_options
@backbone_options
@option("--rotations", type=click.Choice(["all", "random"]), default="all",
        help="all: every batch holds all 4 rotations of each image (RotNet); "
             "random: one random rotation per image per epoch (the reference variant).")
@option("--unlabeled-fraction", type=click.FloatRange(0, 1, min_open=True), default=1.0,
        help="Share of the pool used for pretraining (how much unlabelled data is needed?).")
@option("--val-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.1,
        help="Share of the pretext images held out to select the epoch by rotation accuracy.")
@option("--epochs", type=click.IntRange(min=1), default=15, help="Pretext epochs.")
@option("--batch-size", type=click.IntRange(min=1), default=64,
        help="Source images per batch (x4 samples with --rotations all).")
@option("--lr", type=click.FloatRange(0, min_open=True), default=1e-3, help="Adam learning rate.")
@option("--seed", type=int, default=0, help="Seed for the data order, init and held-out slice.")
@option("--backbone-cache", type=click.Path(file_okay=False, path_type=Path),
        default=Path("artifacts/backbones"),
        help="Backbones are stored here under a name keyed by the pretext config, where "
             "`sslexp train --pretrained auto` finds them.")
@option("--output-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
        show_default=False, help="Write here instead of the backbone cache.")
@flag("--resume", False, "Continue an interrupted pretraining from its last completed epoch.")
@wandb_options
@user_errors
def pretrain(dataset, image_size, cache_dir, depth, width, preprocessing, rotations,
             unlabeled_fraction, val_fraction, epochs, batch_size, lr, seed, backbone_cache,
             output_dir, resume, wandb_mode, project, entity, group):
    """Pretrain a ResNet backbone to predict the rotation (0/90/180/270) of pool images.

    Labels are ignored. The epoch with the best rotation accuracy on a held-out
    slice of the pool (never the test split) is kept. Writes backbone.keras,
    pretext.keras and results.json, and a W&B model artifact when W&B is on.
    """
    from sslexp.backbones import backbone_dir
    from sslexp.models import BackboneConfig
    from sslexp.pretrain import BACKBONE_FILE, PretrainConfig, run_pretraining
    from sslexp.tracking import WandbSettings

    config = PretrainConfig(
        dataset=dataset, image_size=image_size,
        backbone=BackboneConfig(depth=depth, width=width, preprocessing=preprocessing),
        rotations=rotations, unlabeled_fraction=unlabeled_fraction, val_fraction=val_fraction,
        epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
    )
    directory = output_dir or backbone_dir(backbone_cache, config)
    click.echo(f"pretraining into {directory}", err=True)
    results = run_pretraining(config, directory, cache_dir,
                              WandbSettings(wandb_mode, project, entity, group), resume=resume)
    click.echo(f"best validation rotation accuracy {results['best_val_accuracy']:.4f} "
               f"(epoch {results['best_epoch']}); backbone: {directory / BACKBONE_FILE}")
