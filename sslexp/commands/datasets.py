"""``sslexp datasets``: what can be loaded here, and from where."""

from __future__ import annotations

import click

from sslexp.options import CONTEXT_SETTINGS


@click.command(context_settings=CONTEXT_SETTINGS)
def datasets():
    """List the data sets: name, source, sizes, and whether each is available here now."""
    from sslexp.data import available_sources

    rows = []
    for source in available_sources():
        available, reason = source.availability()
        rows.append((source.name, "yes" if available else "no", reason, source.sizes, source.source))
    headers = ("name", "available", "why", "sizes", "source")
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(4)]
    for row in [headers, *rows]:
        click.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)) + "  " + row[4])
