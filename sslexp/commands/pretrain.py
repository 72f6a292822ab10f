"""``sslexp pretrain``: RotNet pretext training of the backbone."""

from __future__ import annotations

from pathlib import Path

import click

from sslexp.commands.common import run_options, wandb_options
from sslexp.config import PRETRAIN_PREFIXES as PREFIXES
from sslexp.config import PretrainConfig
from sslexp.options import Command, config_option, config_options, split_values, user_errors


@click.command(cls=Command)
@config_option
@config_options(PretrainConfig, PREFIXES)
@run_options("Write here instead of the backbone cache.")
@wandb_options
@user_errors
def pretrain(**values):
    """Pretrain a ResNet backbone to predict the rotation (0/90/180/270) of pool images.

    Labels are ignored. The epoch with the best rotation accuracy on a held-out
    slice of the pool (never the test split) is kept. Writes backbone.keras,
    pretext.keras and results.json into the backbone cache (where
    `sslexp train --pretrained auto` finds it), and a W&B model artifact when
    W&B is on. Into the cache it holds the backbone's lock, as automatic
    pretraining does; online, a backbone another machine logged is downloaded
    instead of pretrained again.
    """
    from sslexp.runs.lifecycle import AlreadyFinished
    from sslexp.runs.lock import run_directory_lock
    from sslexp.runs.record import BACKBONE_FILE
    from sslexp.training.backbones import backbone_dir, pretrain_into_cache
    from sslexp.training.pretrain import run_pretraining
    from sslexp.training.tracking import WandbSettings

    config, rest = split_values(PretrainConfig, values, PREFIXES)
    cached = backbone_dir(rest["backbone_cache"], config)
    directory = rest["output_dir"] or cached
    settings = WandbSettings(rest["wandb_mode"], rest["project"], rest["entity"], rest["group"])
    click.echo(f"pretraining into {directory}", err=True)
    try:
        if Path(directory).resolve() == cached.resolve():  # the cache: one writer at a time
            record = pretrain_into_cache(
                config, cached, rest["cache_dir"], settings, rest["resume"], echo=_warn
            )
        else:
            with run_directory_lock(directory):
                record = run_pretraining(
                    config, directory, rest["cache_dir"], settings, resume=rest["resume"]
                )
    except AlreadyFinished as done:
        record = done.record
        click.echo(f"{directory} already holds this finished backbone; nothing to resume.")
    click.echo(
        f"best validation rotation accuracy {100 * record.best_val_accuracy:.2f}% "
        f"(epoch {record.best_epoch}); backbone: {directory / BACKBONE_FILE}"
    )


def _warn(line: str) -> None:
    click.echo(f"warning: {line}", err=True)
