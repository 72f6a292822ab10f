"""Create a sweep on the W&B server with ``wandb sweep``.

The YAML is first checked with the open-source engine's schema, so a typo is
reported before anything reaches the server.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

from sslexp.sweep.config import SweepSpec
from sslexp.sweep.wandb_cli import find_wandb_executable

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
_AGENT_LINE = re.compile(r"wandb agent (\S+)")
_CREATED_LINE = re.compile(r"(?:Creating|Created) sweep with ID: (\S+)")


@dataclass(frozen=True)
class CreatedSweep:
    sweep_id: str
    sweep_path: str  # entity/project/id when W&B printed it, else the id
    output: str


# `sslexp train` logs to this project by default; without it `wandb sweep` would
# name the project after the git repository.
DEFAULT_PROJECT = "sslexp"


def create_sweep_command(
    spec: SweepSpec,
    project: str | None,
    entity: str | None,
    wandb: str,
    env: Mapping[str, str] = os.environ,
) -> list[str]:
    """``wandb sweep`` with the project from the option, the YAML, $WANDB_PROJECT or sslexp's default."""
    project = project or spec.raw.get("project") or env.get("WANDB_PROJECT") or DEFAULT_PROJECT
    argv = [wandb, "sweep", "--project", project]
    if entity:
        argv += ["--entity", entity]
    return argv + [str(spec.path)]


def parse_sweep_output(output: str) -> tuple[str, str] | None:
    """(sweep id, sweep path) from ``wandb sweep``'s output, or None if absent."""
    plain = _ANSI_ESCAPE.sub("", output)
    agent = _AGENT_LINE.search(plain)
    if agent:
        path = agent.group(1).strip("'\"")
        return path.rsplit("/", 1)[-1], path
    created = _CREATED_LINE.search(plain)
    if created:
        return created.group(1), created.group(1)
    return None


def create_online_sweep(spec: SweepSpec, project: str | None = None, entity: str | None = None) -> CreatedSweep:
    """Run ``wandb sweep``; RuntimeError with its output when no sweep id comes back."""
    argv = create_sweep_command(spec, project, entity, find_wandb_executable())
    completed = subprocess.run(argv, capture_output=True, text=True)
    output = completed.stdout + completed.stderr
    parsed = parse_sweep_output(output)
    if completed.returncode != 0 or parsed is None:
        raise RuntimeError(
            f"`{' '.join(argv)}` did not create a sweep (exit status {completed.returncode}). "
            f"Check `wandb login` and the project/entity. Its output:\n{output.strip()}"
        )
    sweep_id, sweep_path = parsed
    return CreatedSweep(sweep_id=sweep_id, sweep_path=sweep_path, output=output)


def agent_hints(sweep_path: str, gpus: str = "0") -> list[str]:
    """Commands to print after creating a sweep."""
    return [
        f"sslexp agents {sweep_path} --gpus {gpus}",
        f"wandb agent {sweep_path}",
    ]
