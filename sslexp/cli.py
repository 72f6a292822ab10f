"""The ``sslexp`` command line: a click group whose commands load lazily.

Importing TensorFlow takes seconds, so each command lives in its own module and
is imported only when it runs (``sslexp --help`` stays instant).
"""

from __future__ import annotations

import importlib
import importlib.util
import os

import click

from sslexp import __version__
from sslexp.console import VERBOSE_ENV
from sslexp.options import CONTEXT_SETTINGS

# TensorFlow's C++ start-up chatter hides the output users look for (see sslexp.console).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

COMMANDS = {
    "datasets": "sslexp.commands.datasets:datasets",
    "pretrain": "sslexp.commands.pretrain:pretrain",
    "train": "sslexp.commands.train:train",
    "sweep": "sslexp.commands.sweep:sweep",
    "agents": "sslexp.commands.sweep:agents",  # alias of `sslexp sweep agents`
    "sync": "sslexp.commands.sweep:sync",  # alias of `sslexp sweep sync`
    "visualize": "sslexp.commands.visualize:visualize",
    "report": "sslexp.commands.report:report",
}

SHORT_HELP = {
    "datasets": "List the data sets and whether each is available here.",
    "pretrain": "Pretrain a backbone on the RotNet rotation task.",
    "train": "Train one downstream run (label fraction x method x fold).",
    "sweep": "Run a sweep YAML here (local), or on the W&B server (create, agents, fill); sync.",
    "agents": "Same as `sslexp sweep agents`: run a W&B sweep on this machine's GPUs.",
    "sync": "Same as `sslexp sweep sync`: upload a local sweep's offline runs.",
    "visualize": "Filters and activations of the ssl and scratch models, side by side.",
    "report": "The ssl vs scratch comparison report (HTML offline, W&B Report online).",
}


class LazyGroup(click.Group):
    """A group that imports a command's module only when that command is used."""

    def list_commands(self, ctx):
        return [name for name in COMMANDS if _module_exists(COMMANDS[name])]

    def get_command(self, ctx, name):
        target = COMMANDS.get(name)
        if target is None or not _module_exists(target):
            return None
        module_name, attribute = target.split(":")
        return getattr(importlib.import_module(module_name), attribute)

    def format_commands(self, ctx, formatter):
        rows = [(name, SHORT_HELP.get(name, "")) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _module_exists(target: str) -> bool:
    return importlib.util.find_spec(target.split(":")[0]) is not None


def _console_logs(ctx, param, verbose: bool) -> None:
    """Before any command imports TensorFlow: filter its C++ log lines, or show them all."""
    from sslexp import console

    if verbose:
        console.show_native_logs()
    else:
        console.filter_native_logs()


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="sslexp")
@click.option(
    "--verbose",
    is_flag=True,
    is_eager=True,
    expose_value=False,
    envvar=VERBOSE_ENV,
    show_envvar=True,
    callback=_console_logs,
    help="Show TensorFlow's C++ and absl log lines (hidden by default).",
)
def main():
    """Measure how much self-supervised (RotNet) pretraining helps image
    classification when labels are scarce.

    \b
    Offline, on this machine (runs logged to W&B offline):
      sslexp sweep plan sweeps/demo.yaml        the runs, backbones and time, ahead
      sslexp sweep local sweeps/demo.yaml       pretrain, then every ssl/scratch run
      sslexp report sweep-runs/demo             report.html, report.md, CSVs
      sslexp sweep sync sweep-runs/demo         (optional) upload the runs to W&B

    \b
    Online, through the W&B server (after `wandb login`):
      sslexp sweep create sweeps/fashion_mnist.yaml     prints ENTITY/PROJECT/ID
      make pretrain SWEEP=sweeps/fashion_mnist.yaml SWEEP_ID=ENTITY/PROJECT/ID
                                                      backbones ahead, as W&B artifacts
      sslexp sweep agents ENTITY/PROJECT/ID --gpus 0,1,2,3   on each GPU machine
      sslexp report --wandb ENTITY/PROJECT --sweep ID   HTML report and a W&B Report

    One run by hand: `sslexp pretrain`, then `sslexp train` per label fraction
    x method x fold. Every option also reads an SSLEXP_<OPTION> environment
    variable; booleans are --flag / --no-flag, and agent-style spellings
    (--label_fraction=0.02, --flag=True) work.
    """
