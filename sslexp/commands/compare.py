"""``sslexp compare``: a quick ssl vs scratch table from run directories."""

from __future__ import annotations

from pathlib import Path

import click

from sslexp.options import CONTEXT_SETTINGS


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("directories", nargs=-1, required=True,
                type=click.Path(exists=True, file_okay=False, path_type=Path))
def compare(directories):
    """Print mean test accuracy of ssl and scratch per label fraction.

    Reads every finished results.json under DIRECTORIES (run or sweep
    directories). For intervals, p-values and plots use `sslexp report`.
    """
    from sslexp.comparison import collect_finished, comparison_rows

    runs = collect_finished(directories)
    if not runs:
        raise click.ClickException(f"no finished runs under {', '.join(map(str, directories))}")
    click.echo(f"{'fraction':>9} {'labels':>7} {'ssl':>15} {'scratch':>15} {'ssl-scratch':>12} folds")
    for row in comparison_rows(runs):
        click.echo(f"{row['label_fraction']:>9g} {row['n_labels']:>7.0f} "
                   f"{_cell(row['ssl'])} {_cell(row['scratch'])} {_signed(row['difference'])} "
                   f"{row['pairs']:>5}")


def _cell(stats) -> str:
    if stats is None:
        return f"{'-':>15}"
    return f"{stats[0]:>8.4f}+-{stats[1]:<5.3f}"


def _signed(value) -> str:
    return f"{'-':>12}" if value is None else f"{value:>+12.4f}"
