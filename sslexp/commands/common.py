"""Options that mean the same in every command that has them (one environment
variable each), and the defaults of the directories sslexp writes to."""

from __future__ import annotations

from pathlib import Path

import click

from sslexp.options import flag, option
from sslexp.runs.protocol import (ENTITY_ENV, GROUP_ENV, OUTPUT_DIR_ENV, PROJECT_ENV, RESUME_ENV,
                                  WANDB_MODE_ENV)

DEFAULT_CACHE_DIR = Path(".cache/sslexp")
DEFAULT_BACKBONE_CACHE = Path("artifacts/backbones")
RUN = "Run"
WANDB = "Weights & Biases"


def cache_dir_option(command):
    return option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
                  default=DEFAULT_CACHE_DIR, envvar="SSLEXP_CACHE_DIR", section=RUN,
                  help="Where decoded, resized data sets are cached.")(command)


def backbone_cache_option(command):
    return option("--backbone-cache", type=click.Path(file_okay=False, path_type=Path),
                  default=DEFAULT_BACKBONE_CACHE, envvar="SSLEXP_BACKBONE_CACHE", section=RUN,
                  help="Pretrained backbones are stored here under a name keyed by their "
                       "pretext config, where `--pretrained auto` finds them.")(command)


def run_options(output_help: str):
    """--output-dir, --resume (and the data and backbone caches)."""
    def decorate(command):
        for decorator in reversed([
            cache_dir_option,
            backbone_cache_option,
            option("--output-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                   show_default=False, envvar=OUTPUT_DIR_ENV, section=RUN, help=output_help),
            flag("--resume", False, "Continue an interrupted run from its last completed epoch.",
                 envvar=RESUME_ENV, section=RUN),
        ]):
            command = decorator(command)
        return command
    return decorate


def project_option(**attrs):
    """--project, read from one variable in every command; the rule that completes it is
    ``sslexp.runs.wandb_target``'s."""
    return option("--project", default=None, envvar=PROJECT_ENV, show_default=False,
                  help="W&B project. Default: $WANDB_PROJECT, else sslexp; inside a W&B sweep "
                       "always the sweep's.", **attrs)


def entity_option(**attrs):
    return option("--entity", default=None, envvar=ENTITY_ENV, show_default=False,
                  help="W&B entity (user or team). Default: $WANDB_ENTITY, else your default "
                       "entity; inside a W&B sweep always the sweep's.", **attrs)


def wandb_options(command):
    """--wandb-mode, --project, --entity, --group."""
    for decorator in reversed([
        option("--wandb-mode", type=click.Choice(["online", "offline", "disabled"]), default=None,
               envvar=[WANDB_MODE_ENV, "WANDB_MODE"], show_default=False, section=WANDB,
               help="W&B mode. Default: $WANDB_MODE, else online if you are logged in, "
                    "else offline (sync later with `wandb sync`)."),
        project_option(section=WANDB),
        entity_option(section=WANDB),
        option("--group", default=None, envvar=GROUP_ENV, section=WANDB,
               help="W&B group (a sweep's runs share one)."),
    ]):
        command = decorator(command)
    return command
