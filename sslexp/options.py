"""Click conventions shared by every command.

W&B agents pass options as ``--label_fraction=0.02`` and booleans as
``--flag=True``; people type ``--label-fraction 0.02``. Both spellings work,
every option can come from an ``SSLEXP_<NAME>`` environment variable, and
``--config FILE`` (YAML) supplies defaults that flags override.
"""

from __future__ import annotations

from pathlib import Path

import click
import yaml

CONTEXT_SETTINGS = {
    "token_normalize_func": lambda token: token.replace("_", "-"),
    "help_option_names": ["-h", "--help"],
    "max_content_width": 100,
}


def option(*param_decls: str, **attrs):
    """A click option with its default shown and its SSLEXP_ environment variable."""
    name = max((d for d in param_decls if d.startswith("--")), key=len)
    attrs.setdefault("envvar", "SSLEXP_" + name.lstrip("-").replace("-", "_").upper())
    attrs.setdefault("show_envvar", True)
    attrs.setdefault("show_default", True)
    return click.option(*param_decls, **attrs)


def flag(name: str, default: bool, help: str):
    """A boolean option usable as ``--name``, ``--name=True`` or ``--name false``."""
    return option(
        name,
        type=click.BOOL,
        is_flag=False,
        flag_value=True,
        default=default,
        help=help,
    )


def _load_config_file(ctx: click.Context, param: click.Parameter, value: str | None):
    if value is None:
        return None
    path = Path(value)
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except OSError as error:
        raise click.BadParameter(f"cannot read {path}: {error.strerror}", ctx, param) from error
    except yaml.YAMLError as error:
        raise click.BadParameter(f"{path} is not valid YAML: {error}", ctx, param) from error
    if not isinstance(loaded, dict):
        raise click.BadParameter(
            f"{path} must be a YAML mapping of option names to values, got {type(loaded).__name__}",
            ctx,
            param,
        )
    known = {p.name for p in ctx.command.params}
    defaults = {}
    for key, item in loaded.items():
        # W&B sweep-style nested values ({value: x}) are accepted too.
        if isinstance(item, dict) and set(item) == {"value"}:
            item = item["value"]
        name = str(key).replace("-", "_")
        if name not in known or name == "config":
            allowed = ", ".join(sorted(n.replace("_", "-") for n in known - {"config"}))
            raise click.BadParameter(
                f"{path}: unknown option {key!r}. Allowed keys: {allowed}", ctx, param
            )
        defaults[name] = item
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    return str(path)


def config_option(command):
    """``--config FILE``: YAML defaults for the command's options."""
    return click.option(
        "--config",
        type=click.Path(dir_okay=False),
        is_eager=True,
        expose_value=False,
        callback=_load_config_file,
        envvar="SSLEXP_CONFIG",
        show_envvar=True,
        help="YAML file of option defaults (keys spelled like the options); flags override it.",
    )(command)
