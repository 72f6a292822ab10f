"""``sslexp train``: one downstream run, as a W&B sweep agent would start it."""

from __future__ import annotations

from pathlib import Path

import click

from sslexp.commands.common import RUN, run_options, wandb_options
from sslexp.config import TrainConfig
from sslexp.options import Command, config_option, config_options, option, split_values, user_errors
from sslexp.runs.lifecycle import run_location
from sslexp.runs.protocol import RUN_NAME_ENV

EPOCHS_HINT = (
    "Training length is counted in optimizer updates: --max-updates N (the cap, "
    "or with --budget matched the exact number) and --patience N (updates without "
    "a better validation loss before stopping). --pretext-epochs sets pretraining."
)


@click.command(cls=Command, option_hints={"--epochs": EPOCHS_HINT})
@config_option
@config_options(TrainConfig)
@run_options("Run directory. Default: runs/<run name> (plus the W&B run id under an agent).")
@option(
    "--run-name",
    default=None,
    show_default=False,
    envvar=RUN_NAME_ENV,
    section=RUN,
    help="Run name (also the W&B run name). Default: <dataset>-<method>-p<fraction>-"
    "fold<fold>-<config hash>; in a W&B sweep <method>-p<fraction>-fold<fold>.",
)
@wandb_options
@user_errors
def train(**values):
    """Train one run (label fraction x method x fold), then test it once.

    A validation split carved from the labelled subset selects the epoch; the
    test split is evaluated exactly once at the end. Writes results.json
    (config, history, test metrics, split fingerprint, versions, state) and
    model.keras to the run directory. A directory holding a finished run is
    never overwritten.
    """
    from sslexp.runs.lifecycle import AlreadyFinished
    from sslexp.runs.lock import run_directory_lock
    from sslexp.runs.record import RESULTS_FILE
    from sslexp.training.tracking import WandbSettings
    from sslexp.training.train import run_training

    config, rest = split_values(TrainConfig, values)
    run_name, output_dir = run_location(config, rest["run_name"], rest["output_dir"])
    settings = WandbSettings(rest["wandb_mode"], rest["project"], rest["entity"], rest["group"])
    try:
        with run_directory_lock(output_dir):
            record = run_training(
                config,
                Path(output_dir),
                rest["cache_dir"],
                rest["backbone_cache"],
                settings,
                run_name,
                rest["resume"],
            )
    except AlreadyFinished as done:
        record = done.record
        click.echo(f"{output_dir} already holds this finished run; nothing to resume.")
    click.echo(
        f"{run_name}: test accuracy {100 * record.test_accuracy:.2f}% "
        f"(loss {record.test['loss']:.4f}) with {record.split['n_labels']} labels; "
        f"best epoch {record.best_epoch}; results in {Path(output_dir) / RESULTS_FILE}"
    )
