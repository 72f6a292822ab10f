"""``sslexp sync``: upload a local sweep's offline W&B runs."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from sslexp.options import CONTEXT_SETTINGS, flag, option


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("sweep_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@option("--project", default=None, help="Upload to this W&B project (default: the one each run recorded).")
@option("--entity", default=None, help="Upload to this W&B entity (default: the one each run recorded).")
@flag("--dry-run", False, "List what would be uploaded, one line per run with its group; upload nothing.")
@flag("--include-unfinished", False, "Upload failed and interrupted runs too.")
def sync(sweep_dir, project, entity, dry_run, include_unfinished):
    """Upload the offline W&B runs of SWEEP_DIR (made by `sslexp sweep local`) with `wandb sync`.

    Each run keeps its group (the sweep name).
    """
    from sslexp.sweep.sync import describe, find_offline_runs, sync_runs
    from sslexp.sweep.wandb_cli import find_wandb_executable

    try:
        runs, without_data = find_offline_runs(sweep_dir, include_unfinished=include_unfinished)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="SWEEP_DIR") from error
    if without_data:
        click.echo(
            f"{len(without_data)} run(s) have no offline W&B data (logged with W&B disabled or online?): "
            + ", ".join(without_data),
            err=True,
        )
    if not runs:
        click.echo("Nothing to upload.", err=True)
        return
    if dry_run:
        for run in runs:
            click.echo(describe(run))
        return
    try:
        wandb = find_wandb_executable()
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    statuses = sync_runs(runs, wandb, project, entity, echo=lambda line: click.echo(line, err=True))
    failed = [path for path, code in statuses.items() if code != 0]
    click.echo(f"uploaded {len(statuses) - len(failed)} of {len(statuses)} run(s)")
    for path in failed:
        click.echo(f"failed: {path} (exit status {statuses[path]})", err=True)
    if failed:
        sys.exit(1)
