"""``sslexp datasets``: what can be loaded here, and from where."""

from __future__ import annotations

import textwrap

import click

from sslexp.commands.common import cache_dir_option
from sslexp.config import MIN_IMAGE_SIZE, image_size_field
from sslexp.options import Command, option, user_errors

WIDTH = 100


@click.command(cls=Command)
@option(
    "--prepare",
    "prepare",
    default=None,
    metavar="NAME",
    help="Download (if needed), decode and cache data set NAME now, e.g. before going offline.",
)
@option(
    "--image-size",
    type=click.IntRange(min=MIN_IMAGE_SIZE),
    default=image_size_field().default,
    envvar="SSLEXP_IMAGE_SIZE",
    help=f"Size to cache with --prepare: SIZE x SIZE pixels (at least {MIN_IMAGE_SIZE}).",
)
@cache_dir_option
@user_errors
def datasets(prepare, image_size, cache_dir):
    """List the data sets: name, whether each is available here now, sizes, source."""
    from sslexp.data import available_sources, load_dataset
    from sslexp.training.plan import unreadable_files_text

    if prepare:
        data = load_dataset(prepare, image_size, cache_dir)
        click.echo(
            f"{prepare}: pool {len(data.pool_labels)}, test {len(data.test_labels)}, "
            f"{data.num_classes} classes, {data.image_shape}"
            f"{unreadable_files_text(data.skipped_files, None) or '; no unreadable files'}; "
            f"cached in {cache_dir}"
        )
        return
    sources = available_sources()
    name_width = max(len(source.name) for source in sources) + 2
    wrap = textwrap.TextWrapper(
        width=WIDTH, initial_indent=" " * name_width, subsequent_indent=" " * name_width
    )
    click.echo("name".ljust(name_width) + "available here; sizes; source")
    for source in sources:
        available, reason = source.availability()
        click.echo(source.name.ljust(name_width) + f"{'yes' if available else 'no'}: {reason}")
        for text in (source.sizes, source.source):
            click.echo(wrap.fill(text))
