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
from sslexp.options import CONTEXT_SETTINGS

# TensorFlow's C++ start-up chatter hides the output users look for.
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


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="sslexp")
def main():
    """Measure how much self-supervised (RotNet) pretraining helps image
    classification when labels are scarce.

    Typical flow: `sslexp pretrain`, then `sslexp train` for each label
    fraction x method x fold (or `sslexp sweep local sweeps/demo.yaml`), then
    `sslexp report`. Every option also reads an SSLEXP_<OPTION> environment
    variable, and agent-style spellings (--label_fraction=0.02, --flag=True) work.
    """
