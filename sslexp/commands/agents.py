"""``sslexp agents``: one ``wandb agent`` per GPU for a sweep on the W&B server."""

from __future__ import annotations

import os
import sys

import click

from sslexp.options import CONTEXT_SETTINGS, option


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("sweep_id")
@option("--gpus", default="0", help="GPU indices, e.g. 0,1,2,3: one agent per GPU (CUDA_VISIBLE_DEVICES).")
@option("--count", type=click.IntRange(min=1), default=None, help="Runs per agent (default: until the sweep ends).")
@option("--stagger", type=click.FloatRange(min=0), default=5.0,
        help="Seconds between agent starts; agents started together can get the same first run.")
@option("--project", default=None, help="W&B project, when SWEEP_ID is not entity/project/id.")
@option("--entity", default=None, help="W&B entity, when SWEEP_ID is not entity/project/id.")
def agents(sweep_id, gpus, count, stagger, project, entity):
    """Start one `wandb agent SWEEP_ID` per GPU and wait for them all.

    Ctrl-C or SIGTERM is passed to every agent (which passes it to its run);
    a second one kills them. Ends with each agent's exit status.
    """
    from sslexp.sweep.agents import AgentGroup, agent_specs, parse_gpus
    from sslexp.sweep.signals import forwarding_signals
    from sslexp.sweep.wandb_cli import find_wandb_executable

    try:
        gpu_list = parse_gpus(gpus)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--gpus") from error
    try:
        wandb = find_wandb_executable()
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    specs = agent_specs(sweep_id, gpu_list, wandb, os.environ, count=count, project=project, entity=entity)
    group = AgentGroup(specs, stagger_s=stagger, echo=lambda line: click.echo(line, err=True))
    with forwarding_signals(group.handle_signal):
        codes = group.run()
    for index, (spec, code) in enumerate(zip(specs, codes)):
        status = "not started" if code is None else f"exit status {code}"
        click.echo(f"agent {index} (GPU {spec.gpu}): {status}")
    if any(code != 0 for code in codes):
        sys.exit(1)
