"""``sslexp datasets``: what can be loaded here, and from where."""

from __future__ import annotations

import click

from sslexp.commands.common import cache_dir_option
from sslexp.config import image_size_field
from sslexp.options import Command, option, user_errors


@click.command(cls=Command)
@option("--prepare", "prepare", default=None, metavar="NAME",
        help="Download (if needed), decode and cache data set NAME now, e.g. before going offline.")
@option("--image-size", type=click.IntRange(min=8), default=image_size_field().default,
        envvar="SSLEXP_IMAGE_SIZE", help="Size to cache with --prepare.")
@cache_dir_option
@user_errors
def datasets(prepare, image_size, cache_dir):
    """List the data sets: name, source, sizes, and whether each is available here now."""
    from sslexp.data import available_sources, load_dataset

    if prepare:
        data = load_dataset(prepare, image_size, cache_dir)
        click.echo(f"{prepare}: pool {len(data.pool_labels)}, test {len(data.test_labels)}, "
                   f"{data.num_classes} classes, {data.image_shape}, {data.skipped} unreadable "
                   f"images skipped; cached in {cache_dir}")
        return
    rows = []
    for source in available_sources():
        available, reason = source.availability()
        rows.append((source.name, "yes" if available else "no", reason, source.sizes, source.source))
    headers = ("name", "available", "why", "sizes", "source")
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(4)]
    for row in [headers, *rows]:
        click.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)) + "  " + row[4])
