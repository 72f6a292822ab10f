"""The command line's conventions, and click options generated from the config classes.

W&B agents pass options as ``--label_fraction=0.02`` and booleans as
``--flag=True``; people type ``--label-fraction 0.02``, ``--flag`` and
``--no-flag``. All these spellings work. Every option reads an environment
variable named after what it means (``SSLEXP_PRETEXT_EPOCHS`` is the pretext
epochs whether the command is ``pretrain --epochs`` or ``train
--pretext-epochs``), and ``--config FILE`` (YAML) supplies defaults that flags
override.
"""

from __future__ import annotations

import functools
from pathlib import Path

import click
import yaml

from sslexp import config as configs
from sslexp.errors import (DataUnavailableError, InputError, WandbUnavailable,
                           exit_after_failed_write, quiet_hdf5_write_failures,
                           release_failed_writes, write_failure_line)

CONTEXT_SETTINGS = {
    "token_normalize_func": lambda token: token.replace("_", "-"),
    "help_option_names": ["-h", "--help"],
    "max_content_width": 100,
}
SECTION_TITLES = {"data": "Data", "": "Training",
                  "backbone": "Backbone (shared by pretext, ssl and scratch)",
                  "pretext": "Pretext task"}
DATA_FIELDS = ("dataset", "image_size")
OTHER_OPTIONS = "Options"
ARGUMENTS = "Arguments"


class Option(click.Option):
    """A click option that knows the config field it sets and the heading it is listed under."""

    def __init__(self, *args, field_path: str | None = None, help_section: str = OTHER_OPTIONS,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.field_path = field_path
        self.help_section = help_section

    @property
    def is_switch(self) -> bool:
        """A boolean that takes an optional value: ``--flag``, ``--no-flag``, ``--flag=False``."""
        return self.type is click.BOOL and not self.is_flag and self.flag_value is True

    @property
    def negations(self) -> dict[str, str]:
        """``--no-flag`` -> ``--flag`` for each long spelling of a switch."""
        if not self.is_switch:
            return {}
        return {"--no-" + opt[2:]: opt for opt in self.opts if opt.startswith("--")}

    def get_help_record(self, ctx):
        record = super().get_help_record(ctx)
        if record is not None and self.is_switch:
            # --flag / --no-flag for people; --flag=True / --flag false still work for agents.
            names = record[0].replace(" BOOLEAN", "")
            for negation, opt in self.negations.items():
                names = names.replace(opt, f"{opt} / {negation}", 1)
            record = (names, record[1])
        return record


class Command(click.Command):
    """Options listed under headings; options without an environment variable get
    ``SSLEXP_<ENV_PREFIX>_<NAME>`` so that two commands never read one variable for
    different things."""

    def __init__(self, *args, env_prefix: str | None = None,
                 option_hints: dict[str, str] | None = None, **kwargs):
        kwargs.setdefault("context_settings", CONTEXT_SETTINGS)
        super().__init__(*args, **kwargs)
        self.option_hints = dict(option_hints or {})  # unknown option -> what to use instead
        prefix = (env_prefix or self.name or "").upper().replace("-", "_")
        for param in self.params:
            if isinstance(param, click.Option) and param.envvar is None and param.name != "help":
                param.envvar = f"SSLEXP_{prefix}_{param.name.upper()}"
                param.show_envvar = True

    def parse_args(self, ctx, args):
        """``--no-flag`` (or ``--no_flag``) becomes ``--flag=false`` before click parses; an
        unknown option people often try gets its own hint instead of click's guesses."""
        negations = {negation: opt for param in self.params if isinstance(param, Option)
                     for negation, opt in param.negations.items()}
        rewritten = []
        for index, token in enumerate(args):
            if token == "--":
                rewritten += args[index:]
                break
            normalized = token.replace("_", "-")
            rewritten.append(f"{negations[normalized]}=false" if normalized in negations
                             else token)
        try:
            return super().parse_args(ctx, rewritten)
        except click.NoSuchOption as error:
            hint = self.option_hints.get(error.option_name)
            if hint is None:
                raise
            raise click.NoSuchOption(error.option_name, f"No such option: {error.option_name}. "
                                     f"{hint}", ctx=ctx) from None

    def format_arguments(self, ctx, formatter):
        """Arguments are listed by ``format_options`` (click before 8.3 has no such section)."""

    def format_options(self, ctx, formatter):
        sections: dict[str, list] = {}
        arguments = [param.get_help_record(ctx) for param in self.get_params(ctx)
                     if isinstance(param, click.Argument)]
        if any(arguments):
            sections[ARGUMENTS] = [record for record in arguments if record is not None]
        for param in self.get_params(ctx):
            if isinstance(param, click.Argument):
                continue
            record = param.get_help_record(ctx)
            if record is not None:
                title = getattr(param, "help_section", OTHER_OPTIONS)
                sections.setdefault(title, []).append(record)
        for title, records in sections.items():
            with formatter.section(title):
                formatter.write_dl(records)

    def option_for(self, field_path: str) -> str:
        """The option spelling of a config field in this command (``pretext.epochs`` ->
        ``--pretext-epochs`` in train, ``--epochs`` in pretrain)."""
        for param in self.params:
            if getattr(param, "field_path", None) == field_path:
                return max(param.opts, key=len)
        return field_path if field_path.startswith("-") else (
            "--" + field_path.replace(".", "-").replace("_", "-"))


class Argument(click.Argument):
    """A positional argument with a line of help, listed under "Arguments" in ``--help``."""

    def __init__(self, *args, help: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.help = help

    def get_help_record(self, ctx):
        if not self.help:
            return None
        return self.make_metavar(ctx), self.help


def argument(*param_decls: str, help: str, **attrs):
    """A click argument whose help ``sslexp CMD --help`` shows."""
    return click.argument(*param_decls, cls=Argument, help=help, **attrs)


class OrderedGroup(click.Group):
    """Sub-commands listed in the order they are used, each with its whole first line of
    help (click sorts them by name and cuts the help at 45 characters)."""

    def __init__(self, *args, order: tuple[str, ...] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.order = order

    def list_commands(self, ctx):
        known = list(self.commands)
        return ([name for name in self.order if name in self.commands]
                + [name for name in known if name not in self.order])

    def format_commands(self, ctx, formatter):
        rows = [(name, self.commands[name].get_short_help_str(limit=200))
                for name in self.list_commands(ctx) if not self.commands[name].hidden]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def option(*param_decls: str, section: str = OTHER_OPTIONS, **attrs):
    """A click option with its default and environment variable shown."""
    attrs.setdefault("show_default", True)
    if attrs.get("envvar"):
        attrs.setdefault("show_envvar", True)
    return click.option(*param_decls, cls=Option, help_section=section, **attrs)


def flag(name: str, default: bool, help: str, section: str = OTHER_OPTIONS, **attrs):
    """A boolean option usable as ``--name``, ``--no-name``, ``--name=True`` or ``--name false``."""
    return option(name, type=click.BOOL, is_flag=False, flag_value=True, default=default,
                  help=help, section=section, **attrs)


def config_options(cls, prefixes: dict[str, str] | None = None, exclude: tuple[str, ...] = ()):
    """One click option per leaf field of the config class ``cls`` (see ``sslexp.config``).

    ``prefixes`` renames a section's options for this command (``{"pretext": ""}``
    makes ``pretext.epochs`` ``--epochs``); the environment variable keeps the
    field's canonical name either way.
    """
    canonical = {item.dotted: item.name for item in configs.flat_fields(cls)}
    declared = [item for item in configs.flat_fields(cls, prefixes) if item.dotted not in exclude]

    def decorate(command):
        for owner, field, dotted, name in reversed(declared):
            section = dotted.rsplit(".", 1)[0] if "." in dotted else (
                "data" if dotted in DATA_FIELDS else "")
            kind = configs.field_types(owner)[field.name]
            attrs = dict(help=field.metadata["help"], default=field.default,
                         envvar="SSLEXP_" + canonical[dotted].upper(), show_envvar=True,
                         field_path=dotted, section=SECTION_TITLES.get(section, section))
            if kind is bool:
                attrs.update(type=click.BOOL, is_flag=False, flag_value=True)
            else:
                attrs.update(type=_click_type(field, kind))
            command = option("--" + name.replace("_", "-"), name, **attrs)(command)
        return command

    return decorate


def _click_type(field, kind: type):
    meta = field.metadata
    if meta.get("choices"):
        return click.Choice([str(choice) for choice in meta["choices"]])
    if kind in (int, float) and (meta.get("min") is not None or meta.get("max") is not None):
        ranged = click.IntRange if kind is int else click.FloatRange
        extra = ({"min_open": meta["min_open"], "max_open": meta["max_open"]}
                 if kind is float else {})
        return ranged(min=meta.get("min"), max=meta.get("max"), **extra)
    return kind


def split_values(cls, values: dict, prefixes: dict[str, str] | None = None):
    """(config built from the option values, the command's other option values)."""
    names = cls.flat_names(prefixes)
    return cls.from_flat(values, prefixes), {k: v for k, v in values.items() if k not in names}


def _load_config_file(ctx: click.Context, param: click.Parameter, value: str | None):
    if value is None:
        return None
    path = Path(value)
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as error:
        raise click.BadParameter(f"cannot read {path}: {error.strerror}", ctx, param) from error
    except UnicodeDecodeError as error:
        raise click.BadParameter(f"{path} is not UTF-8 text (byte {error.start}: "
                                 f"{error.reason}); save it as UTF-8", ctx, param) from error
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


def user_errors(function):
    """InputError becomes a usage error (exit status 2) naming the option the user typed; a
    write the file system refused becomes one line saying where and what to do (exit 1)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            with quiet_hdf5_write_failures():
                return function(*args, **kwargs)
        except InputError as error:
            command = click.get_current_context().command
            option = (command.option_for(error.option) if isinstance(command, Command)
                      else error.option)
            raise click.BadParameter(f"{error.value!r}: {error.problem}",
                                     param_hint=f"'{option}'") from error
        except DataUnavailableError as error:
            raise click.ClickException(str(error)) from error
        except WandbUnavailable as error:
            failure = click.ClickException(str(error))
            failure.exit_code = error.exit_code
            raise failure from None
        except KeyboardInterrupt:
            # The run already recorded itself as interrupted; 130 is what shells expect.
            click.echo("interrupted", err=True)
            raise click.exceptions.Exit(130) from None
        except click.ClickException:
            raise
        except Exception as error:  # a refused write: one line naming the path, exit 1
            line = write_failure_line(error)
            if line is None:
                raise
            release_failed_writes(error)
            failure = click.ClickException(line)
            failure.show()
            exit_after_failed_write(failure.exit_code)
            raise click.exceptions.Exit(failure.exit_code) from None

    return wrapper
