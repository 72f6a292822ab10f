"""``sslexp report``: the ssl vs scratch comparison as a self-contained HTML file (and
Markdown), from a sweep directory or from W&B, and online a W&B Report."""

from __future__ import annotations

from pathlib import Path

import click

from sslexp.commands.common import cache_dir_option
from sslexp.options import Command, argument, config_option, flag, option, user_errors
from sslexp.report.verdict import MIN_VAL_PER_CLASS

DEFAULT_WANDB_OUT = Path("reports")


@click.command(cls=Command)
@argument(
    "sweep_dir",
    required=False,
    type=click.Path(exists=True, file_okay=False),
    help="A sweep directory (`sweep-runs/<name>`, holding runs/) or a directory of "
    "runs (`.` for ./runs). Leave it out with --wandb to read the runs from W&B.",
)
@config_option
@option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    show_default=False,
    help="Where report.html, report.md and the CSVs go. Default: SWEEP_DIR/report, or "
    "reports/<sweep id or group> for a report from W&B.",
)
@option("--title", default=None, show_default=False, help="Report title.")
@flag(
    "--pictures",
    True,
    "Draw the ssl and scratch filters/activations and the pretext "
    "rotation predictions from the checkpoints.",
)
@option(
    "--images",
    "image_count",
    type=click.IntRange(min=1),
    default=4,
    help="How many test images the pictures show.",
)
@option("--seed", type=int, default=0, help="Seed that picks the test images.")
@option(
    "--npz",
    "npz_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Take the pictures' images from this .npz (array test_images or images) instead of "
    "the runs' data set.",
)
@cache_dir_option
@option(
    "--wandb",
    "wandb_path",
    default=None,
    metavar="ENTITY/PROJECT",
    help="Read the runs of --sweep or --group from this W&B project (without SWEEP_DIR the "
    "HTML report is built from them), log the comparison there and save a W&B Report.",
)
@option("--sweep", "sweep_id", default=None, help="W&B sweep id whose runs are compared.")
@option("--group", default=None, help="W&B group whose runs are compared.")
@flag(
    "--publish",
    True,
    "With --wandb: log the `comparison` run and save the W&B Report "
    "(--no-publish: only read from W&B).",
)
@option(
    "--experiment",
    default=None,
    show_default=False,
    help="When the runs belong to several experiments (other data set, image size, "
    "architecture, budget...): the one to report, by the name the error lists, or "
    "`all` for one report per experiment in OUT/<name>/.",
)
@option(
    "--baseline",
    "baseline_dir",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    show_default=False,
    help="Compare SWEEP_DIR's ssl runs with the scratch runs of this sweep directory (same "
    "settings apart from pretraining), e.g. an unlabelled-volume sweep of ssl runs "
    "against the main study's scratch runs.",
)
@option(
    "--min-val-per-class",
    type=click.FloatRange(min=0),
    default=MIN_VAL_PER_CLASS,
    help="Flag epoch selection as noisy below this many validation images per class.",
)
@option(
    "--page",
    "page_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    show_default=False,
    help="Also write a results page (Markdown) for a project's docs: how to reproduce "
    "the sweep, its wall time, revision and CPU, the sweep file's header, then the "
    "report; figures and CSVs go to the directory named like the page "
    "(docs/results/study.md -> docs/results/study/).",
)
@option(
    "--page-command",
    default=None,
    show_default=False,
    help="The command the page gives to reproduce the sweep, e.g. `make study` "
    "(default: `sslexp sweep local` on SWEEP_DIR's copy of the sweep file, then "
    "`sslexp report`).",
)
@option(
    "--previous",
    "previous_csv",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    show_default=False,
    help="With --page: an earlier comparison.csv of the same label fractions; the page "
    "sets each gap then and now side by side and says how much of it is gone.",
)
@option(
    "--previous-label",
    default=None,
    show_default=False,
    help="With --previous: what the earlier comparison was (its protocol, its revision), "
    "said on the page beside its numbers.",
)
@user_errors
def report(
    sweep_dir,
    out_dir,
    title,
    pictures,
    image_count,
    seed,
    npz_path,
    cache_dir,
    wandb_path,
    sweep_id,
    group,
    publish,
    experiment,
    baseline_dir,
    min_val_per_class,
    page_path,
    page_command,
    previous_csv,
    previous_label,
):
    """Compare ssl with scratch over a sweep: a verdict and its warnings, accuracy
    against labels, paired differences with 95% intervals and Holm-adjusted
    p-values, label efficiency, per-class gains, training budgets, the pretext
    curve, filters and activations side by side, an inventory of finished, failed
    and missing runs, and provenance. Runs of incomparable settings are reported
    per experiment (--experiment).

    \b
    Offline:   sslexp report sweep-runs/demo         (writes sweep-runs/demo/report/)
    Baseline:  sslexp report sweep-runs/unlabeled_volume --baseline sweep-runs/fashion_mnist
    Page:      sslexp report sweep-runs/fashion_mnist --page docs/results/fashion_mnist.md
    From W&B:  sslexp report --wandb me/sslexp --sweep abc123
               (writes reports/abc123/, logs a `comparison` run, prints the W&B Report URL)
    """
    if sweep_dir is None and wandb_path is None:
        raise click.UsageError(
            "Give a SWEEP_DIR, or --wandb ENTITY/PROJECT with --sweep or --group (or both)."
        )
    if baseline_dir is not None and sweep_dir is None:
        raise click.BadParameter(
            "give the SWEEP_DIR whose ssl runs the baseline's scratch runs are compared with",
            param_hint="--baseline",
        )
    if (page_path is not None or previous_csv is not None) and sweep_dir is None:
        raise click.BadParameter(
            "a results page is written from a SWEEP_DIR: give one",
            param_hint="--page" if page_path is not None else "--previous",
        )
    if previous_csv is not None and page_path is None:
        raise click.BadParameter(
            "the earlier comparison goes on the results page: add --page FILE",
            param_hint="--previous",
        )
    target = _wandb_target(wandb_path, sweep_id, group) if wandb_path else None
    image_source = _image_source(cache_dir, npz_path) if pictures else None
    from_wandb = None
    if target is not None:
        if out_dir is None and sweep_dir is None:
            out_dir = DEFAULT_WANDB_OUT / (sweep_id or group).replace("/", "-")
        downloads = Path(out_dir or Path(sweep_dir) / "report") / "wandb-files"
        from_wandb = _collect_from_wandb(
            target, sweep_id, group, downloads, pictures=pictures and sweep_dir is None
        )
    try:
        results = _build(
            sweep_dir,
            from_wandb,
            out_dir,
            title,
            image_source,
            image_count,
            seed,
            experiment,
            min_val_per_class,
            baseline_dir,
        )
    except FileNotFoundError as error:
        from sslexp.report.collect import BaselineError

        hint = "--baseline" if isinstance(error, BaselineError) else "SWEEP_DIR"
        raise click.BadParameter(str(error), param_hint=hint) from error
    for result in results:
        _print_report(result)
    if page_path is not None:
        _write_page(
            results,
            page_path,
            page_command,
            sweep_dir,
            baseline_dir,
            previous_csv,
            previous_label,
        )
    if from_wandb is not None and sweep_dir is not None:
        _compare_sources(results, from_wandb)
    if target is not None and publish:
        if len(results) > 1:
            raise click.BadParameter(
                f"the runs belong to {len(results)} experiments and a W&B Report shows one; "
                "pick it with --experiment NAME (the names are listed above).",
                param_hint="--experiment",
            )
        result = results[0]
        _publish(target, sweep_id, group, title, result.sweep, result.verdict, result.warnings)


def _build(
    sweep_dir,
    from_wandb,
    out_dir,
    title,
    image_source,
    image_count,
    seed,
    experiment,
    min_val_per_class,
    baseline_dir=None,
):
    """The report of each chosen experiment, from SWEEP_DIR, else from W&B."""
    from sslexp.report.build import build_local_reports, build_reports
    from sslexp.report.experiments import ExperimentChoiceError

    try:
        if sweep_dir is not None:
            return build_local_reports(
                sweep_dir,
                out_dir,
                image_source,
                image_count,
                seed,
                title,
                experiment,
                min_val_per_class,
                baseline_dir,
            )
        return build_reports(
            from_wandb,
            Path(out_dir),
            image_source,
            image_count,
            seed,
            title,
            experiment,
            min_val_per_class,
        )
    except ExperimentChoiceError as error:
        raise click.BadParameter(str(error), param_hint="--experiment") from error


def _write_page(
    results, page_path, page_command, sweep_dir, baseline_dir, previous_csv, previous_label
):
    from sslexp.report.results_page import write_page
    from sslexp.sweep.ledger import SWEEP_COPY

    if len(results) > 1:
        raise click.BadParameter(
            f"the runs belong to {len(results)} experiments and a page shows one; pick it "
            "with --experiment NAME (the names are listed above).",
            param_hint="--experiment",
        )
    command = page_command or "\n".join(
        [
            f"sslexp sweep local {Path(sweep_dir) / SWEEP_COPY} --dir {sweep_dir}",
            " ".join(
                ["sslexp report", str(sweep_dir)]
                + (["--baseline", str(baseline_dir)] if baseline_dir else [])
            ),
        ]
    )
    page = write_page(page_path, results[0], command, previous_csv, previous_label)
    click.echo(f"Page: {page} (figures and CSVs in {page.with_suffix('')}/)")


def _image_source(cache_dir, npz_path):
    from sslexp.report.visuals import dataset_images, npz_images

    return npz_images(npz_path) if npz_path else dataset_images(cache_dir)


def _print_report(result) -> None:
    """The verdict and its warnings first, then the numbers, as the report itself opens."""
    from sslexp.data.folder import skipped_files_line

    if result.experiment:
        click.echo(f"Experiment {result.experiment}")
    for sentence in result.verdict:
        click.echo(sentence)
    for warning in result.warnings:
        click.echo(f"Warning: {warning}")
    counts = result.sweep.state_counts()
    click.echo(
        f"Sweep {result.sweep.name}: "
        + ", ".join(f"{count} {state}" for state, count in counts.items() if count)
    )
    click.echo(result.headline)
    for run in result.sweep.runs:
        if run.state not in ("finished",):
            click.echo(f"  {run.state}: {run.run_id}" + (f" ({run.error})" if run.error else ""))
    skipped = skipped_files_line(run.record for run in result.sweep.runs)
    if skipped:
        click.echo(f"  {skipped}")
    if result.sweep.missing_points:
        click.echo(
            f"  missing: {len(result.sweep.missing_points)} grid point(s) never ran "
            f"(listed in the report)"
        )
    click.echo(f"Report: {result.html}")
    click.echo(
        f"Also: {result.markdown}, {result.comparison_csv}, {result.runs_csv}, {result.per_run_csv}"
    )


def _wandb_target(wandb_path: str, sweep_id: str | None, group: str | None) -> tuple[str, str]:
    entity, _, project = wandb_path.partition("/")
    if not entity or not project or "/" in project:
        raise click.BadParameter(
            f"{wandb_path!r} is not ENTITY/PROJECT (e.g. my-team/sslexp)", param_hint="--wandb"
        )
    if bool(sweep_id) == bool(group):
        raise click.BadParameter(
            "give exactly one of --sweep ID or --group NAME to select the runs on W&B",
            param_hint="--sweep/--group",
        )
    return entity, project


def _collect_from_wandb(target, sweep_id, group, downloads: Path, pictures: bool):
    from sslexp.report.wandb_source import collect_wandb

    try:
        import wandb

        api = wandb.Api()
        return collect_wandb(
            api, *target, sweep_id=sweep_id, group=group, download_dir=downloads, pictures=pictures
        )
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--sweep/--group") from error
    except Exception as error:  # the W&B client raises many types for auth and network trouble
        _wandb_failure(error, f"{target[0]}/{target[1]}", "`sslexp report SWEEP_DIR` needs no W&B")


def _wandb_failure(error: Exception, where: str, instead: str) -> None:
    """One line saying what to do, exit status 2 (1 for the network), as every command."""
    from sslexp.runs.wandb_errors import explain

    unavailable = explain(error, where)
    failure = click.ClickException(f"{unavailable} ({instead}.)")
    failure.exit_code = unavailable.exit_code
    raise failure from None


def _compare_sources(results, from_wandb) -> None:
    """SWEEP_DIR's report and W&B's copy of the runs should say the same."""
    from sslexp.report import tables
    from sslexp.report.comparison import compare

    local_rows = [row for result in results for row in tables.headline_rows(result.comparison)]
    if len(results) > 1 or local_rows != tables.headline_rows(compare(from_wandb.runs)):
        result = results[0]
        click.echo(
            f"note: the runs of {from_wandb.source} give other numbers than "
            f"{result.sweep.directory} (runs missing or different on one side); the W&B "
            f"Report shows W&B's.",
            err=True,
        )


def _publish(target, sweep_id, group, title, sweep, verdict=None, warnings=()) -> None:
    """The `comparison` run, then the W&B Report built on it; both URLs printed."""
    from sslexp.report import tables
    from sslexp.report.comparison import compare
    from sslexp.report.wandb_comparison import comparison_run, log_comparison
    from sslexp.report.wandb_report import WandbReportSpec, build_wandb_report, publish
    from sslexp.report.wandb_source import backbone_users

    entity, project = target
    comparison = compare(sweep.runs)
    selection = sweep_id or group
    try:
        run = comparison_run(
            entity,
            project,
            name=f"comparison-{selection}",
            group=group or sweep_id,
            config={"sweep": sweep_id, "group": group, "runs": len(sweep.usable_runs)},
        )
        log_comparison(run, comparison, verdict, warnings)
        run_id, run_url = run.id, run.url
        run.finish()
        spec = WandbReportSpec(
            entity,
            project,
            sweep_id=sweep_id,
            group=group,
            title=title,
            comparison_run_id=run_id,
            label_fractions=tuple(comparison.label_fractions),
            backbone_keys=tuple(backbone_users(sweep.runs)),
            headline_markdown=tables.markdown_table(
                tables.headline_rows(comparison), tables.HEADLINE_COLUMNS
            ),
        )
        url = publish(build_wandb_report(spec, verdict, warnings))
    except Exception as error:  # the W&B client raises many types for auth and network trouble
        _wandb_failure(error, f"{entity}/{project}", "the HTML report above needs no W&B")
    click.echo(f"W&B comparison run: {run_url}")
    click.echo(f"W&B Report: {url}")
