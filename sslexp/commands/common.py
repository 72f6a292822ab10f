"""Options shared by the training commands, and the conversion of input errors."""

from __future__ import annotations

import functools
from pathlib import Path

import click

from sslexp.errors import DataUnavailableError, InputError
from sslexp.options import option

DEFAULT_CACHE_DIR = Path(".cache/sslexp")


def data_options(command):
    """--dataset, --image-size, --cache-dir."""
    for decorator in reversed([
        option("--dataset", default="digits",
               help="digits, fashion_mnist, cats_vs_dogs or folder:PATH (see `sslexp datasets`)."),
        option("--image-size", type=click.IntRange(min=1), default=32,
               help="Images are resized to SIZE x SIZE pixels (at least 8)."),
        option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
               default=DEFAULT_CACHE_DIR, help="Where decoded, resized arrays are cached."),
    ]):
        command = decorator(command)
    return command


def backbone_options(command):
    """--depth, --width, --preprocessing: the ResNet shared by pretext, ssl and scratch."""
    for decorator in reversed([
        option("--depth", type=int, default=20, help="ResNet v1 depth, 6n+2 (8, 14, 20, 32...)."),
        option("--width", type=int, default=16,
               help="Filters of the first stage (the stages have 1x, 2x, 4x)."),
        option("--preprocessing", type=click.Choice(["scale", "pixel-mean"]), default="scale",
               help="scale: pixels/255; pixel-mean: also subtract the pool's per-pixel mean."),
    ]):
        command = decorator(command)
    return command


def wandb_options(command):
    """--wandb-mode, --project, --entity, --group."""
    for decorator in reversed([
        option("--wandb-mode", type=click.Choice(["online", "offline", "disabled"]), default=None,
               envvar=["SSLEXP_WANDB_MODE", "WANDB_MODE"], show_default=False,
               help="W&B mode. Default: $WANDB_MODE, else online if you are logged in, "
                    "else offline (sync later with `wandb sync`)."),
        option("--project", default="sslexp", help="W&B project."),
        option("--entity", default=None, help="W&B entity (user or team)."),
        option("--group", default=None, help="W&B group (a sweep's runs share one)."),
    ]):
        command = decorator(command)
    return command


def user_errors(function):
    """Turn InputError into a usage error (exit status 2) naming the option."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except InputError as error:
            raise click.BadParameter(f"{error.value!r}: {error.problem}",
                                     param_hint=f"'{error.option}'") from error
        except DataUnavailableError as error:
            raise click.ClickException(str(error)) from error
        except KeyboardInterrupt:
            # The run already recorded itself as interrupted; 130 is what shells expect.
            click.echo("interrupted", err=True)
            raise click.exceptions.Exit(130) from None

    return wrapper
