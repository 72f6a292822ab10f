"""``sslexp report``: the ssl vs scratch comparison, as a self-contained HTML file
(offline, from a sweep directory) and/or a W&B Report (online)."""

from __future__ import annotations

import click

from sslexp.commands.common import cache_dir_option
from sslexp.options import Command, config_option, flag, option


@click.command(cls=Command)
@click.argument("sweep_dir", required=False, type=click.Path(exists=True, file_okay=False))
@config_option
@option("--out", "out_dir", type=click.Path(file_okay=False), default=None, show_default=False,
        help="Where report.html, report.md and the CSVs go. Default: SWEEP_DIR/report.")
@option("--title", default=None, show_default=False, help="Report title.")
@flag("--pictures", True, "Draw the ssl and scratch filters/activations and the pretext "
                          "rotation predictions from the checkpoints.")
@option("--images", "image_count", type=click.IntRange(min=1), default=4,
        help="How many test images the pictures show.")
@option("--seed", type=int, default=0, help="Seed that picks the test images.")
@option("--npz", "npz_path", type=click.Path(exists=True, dir_okay=False), default=None,
        help="Take the pictures' images from this .npz (array test_images or images) instead of "
             "the runs' data set.")
@cache_dir_option
@option("--wandb", "wandb_path", default=None, metavar="ENTITY/PROJECT",
        help="Also build a W&B Report in this project (online; needs --sweep or --group).")
@option("--sweep", "sweep_id", default=None, help="W&B sweep id whose runs the W&B Report shows.")
@option("--group", default=None, help="W&B group whose runs the W&B Report shows.")
@option("--metric", default="test/accuracy",
        help="W&B summary key holding a run's test accuracy.")
@option("--experiment", default=None, show_default=False,
        help="When the runs belong to several experiments (other data set, image size, "
             "architecture, budget...): the one to report, by the name the error lists, or "
             "`all` for one report per experiment in OUT/<name>/.")
@option("--min-val-per-class", type=click.FloatRange(min=0), default=5,
        help="Flag epoch selection as noisy below this many validation images per class.")
def report(sweep_dir, out_dir, title, pictures, image_count, seed, npz_path, cache_dir,
           wandb_path, sweep_id, group, metric, experiment, min_val_per_class):
    """Compare ssl with scratch over a sweep: a verdict and its warnings, accuracy
    against labels, paired differences with 95% intervals and Holm-adjusted
    p-values, label efficiency, per-class gains, training budgets, the pretext
    curve, filters and activations side by side, an inventory of finished, failed
    and missing runs, and provenance. Runs of incomparable settings are reported
    per experiment (--experiment).

    \b
    Offline: sslexp report sweep-runs/demo            (writes sweep-runs/demo/report/)
    Online:  sslexp report --wandb me/sslexp --sweep abc123 [sweep-runs/demo]
    """
    if sweep_dir is None and wandb_path is None:
        raise click.UsageError("Give a SWEEP_DIR for the HTML report, or --wandb ENTITY/PROJECT "
                               "with --sweep or --group for a W&B Report (or both).")
    wandb_target = _wandb_target(wandb_path, sweep_id, group) if wandb_path else None

    local = None
    if sweep_dir is not None:
        local = _local_report(sweep_dir, out_dir, title, pictures, image_count, seed, npz_path,
                              cache_dir, experiment, min_val_per_class)
    if wandb_target is not None:
        _wandb_report(wandb_target, sweep_id, group, title, metric, local)


def _local_report(sweep_dir, out_dir, title, pictures, image_count, seed, npz_path, cache_dir,
                  experiment, min_val_per_class):
    """Write the report(s); return the first (the W&B Report summarises that one)."""
    from sslexp.report.build import build_local_reports
    from sslexp.report.experiments import ExperimentChoiceError
    from sslexp.report.visuals import dataset_images, npz_images

    image_source = None
    if pictures:
        image_source = npz_images(npz_path) if npz_path else dataset_images(cache_dir)
    try:
        reports = build_local_reports(sweep_dir, out_dir, image_source, image_count, seed, title,
                                      experiment, min_val_per_class)
    except FileNotFoundError as error:
        raise click.BadParameter(str(error), param_hint="SWEEP_DIR") from error
    except ExperimentChoiceError as error:
        raise click.BadParameter(str(error), param_hint="--experiment") from error
    for local in reports:
        _print_report(local)
    return reports[0]


def _print_report(local) -> None:
    """The verdict and its warnings first, then the numbers, as the report itself opens."""
    if local.experiment:
        click.echo(f"Experiment {local.experiment}")
    for sentence in local.verdict:
        click.echo(sentence)
    for warning in local.warnings:
        click.echo(f"Warning: {warning}")
    counts = local.sweep.state_counts()
    click.echo(f"Sweep {local.sweep.name}: "
               + ", ".join(f"{count} {state}" for state, count in counts.items() if count))
    click.echo(local.headline)
    for run in local.sweep.runs:
        if run.state not in ("finished",):
            click.echo(f"  {run.state}: {run.run_id}" + (f" ({run.error})" if run.error else ""))
    if local.sweep.missing_points:
        click.echo(f"  missing: {len(local.sweep.missing_points)} grid point(s) never ran "
                   f"(listed in the report)")
    click.echo(f"Report: {local.html}")
    click.echo(f"Also: {local.markdown}, {local.comparison_csv}, {local.runs_csv}")


def _wandb_target(wandb_path: str, sweep_id: str | None, group: str | None) -> tuple[str, str]:
    entity, _, project = wandb_path.partition("/")
    if not entity or not project or "/" in project:
        raise click.BadParameter(f"{wandb_path!r} is not ENTITY/PROJECT (e.g. my-team/sslexp)",
                                 param_hint="--wandb")
    if bool(sweep_id) == bool(group):
        raise click.BadParameter("give exactly one of --sweep ID or --group NAME to select the "
                                 "runs of the W&B Report", param_hint="--sweep/--group")
    return entity, project


def _wandb_report(target: tuple[str, str], sweep_id, group, title, metric, local) -> None:
    from sslexp.report import tables
    from sslexp.report.wandb_report import WandbReportSpec, build_wandb_report, publish

    summary = None
    parameters = None
    if local is not None:
        summary = "\n\n".join([
            *local.verdict, *(f"Warning: {warning}" for warning in local.warnings),
            tables.markdown_table(tables.headline_rows(local.comparison),
                                  tables.HEADLINE_COLUMNS)])
        parameters = tuple(local.sweep.grid_parameters) or None
    spec = WandbReportSpec(entity=target[0], project=target[1], sweep_id=sweep_id, group=group,
                           title=title, accuracy_key=metric, summary_markdown=summary,
                           **({"parameters": parameters} if parameters else {}))
    try:
        url = publish(build_wandb_report(spec))
    except Exception as error:  # the W&B client raises many types for auth and network trouble
        raise click.ClickException(
            f"could not save the W&B Report to {target[0]}/{target[1]}: {error}. "
            f"Check `wandb login` and the network; the local report does not need either."
        ) from error
    click.echo(f"W&B Report: {url}")
