"""Sweeps on the W&B server: create one with ``wandb sweep``, write the sbatch script
that starts agents on every node of a Slurm job, and find the ``wandb`` executable.
The agents themselves are ``agent_pool`` (this machine's agent processes) and
``agent`` (one agent process).

The YAML is first checked with the open-source engine's schema, so a typo is
reported before anything reaches the server.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sslexp.sweep.spec import SweepSpec

def find_wandb_executable(path: str | None = None) -> str:
    """The ``wandb`` executable to run; ValueError says how to get one."""
    found = shutil.which("wandb", path=path)
    if found:
        return found
    beside_python = Path(sys.executable).parent / "wandb"
    if beside_python.exists() and os.access(beside_python, os.X_OK):
        return str(beside_python)
    raise ValueError(
        "The `wandb` command was not found on PATH or beside this Python. "
        "Install it into this environment (pip install wandb) or activate the environment that has it."
    )


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
        f"sslexp agents {sweep_path} --gpus {gpus} --slurm agents.sbatch --nodes 2"
        "   (a cluster: then sbatch agents.sbatch)",
        f"wandb agent {sweep_path}",
    ]


@dataclass(frozen=True)
class SlurmJob:
    """One `sslexp sweep agents` per node, each starting its agents on that node's GPUs."""

    nodes: int
    gpus_per_node: int
    time: str = "24:00:00"
    job_name: str = "sslexp-agents"
    extra: tuple[str, ...] = ()  # further sbatch options, e.g. --partition=gpu


def slurm_script(job: SlurmJob, agents_argv: list[str], working_dir: Path) -> str:
    """An sbatch script: on each node, ``agents_argv`` with ``--gpus`` set to the GPUs Slurm
    gave that node (``CUDA_VISIBLE_DEVICES``), else 0..gpus_per_node-1."""
    import shlex

    default_gpus = ",".join(str(index) for index in range(job.gpus_per_node))
    lines = [
        "#!/bin/bash",
        f"#SBATCH --job-name={job.job_name}",
        f"#SBATCH --nodes={job.nodes}",
        "#SBATCH --ntasks-per-node=1",
        f"#SBATCH --gpus-per-node={job.gpus_per_node}",
        f"#SBATCH --time={job.time}",
        "#SBATCH --output=%x-%j.out",
        *(f"#SBATCH {option}" for option in job.extra),
        "",
        "# Each node runs one `sslexp sweep agents`, which starts its agents on the node's GPUs;",
        "# the W&B server hands every agent of every node its own run. The nodes need W&B",
        "# credentials (a shared ~/.netrc from `wandb login`, or WANDB_API_KEY exported here).",
        "set -euo pipefail",
        f"cd {shlex.quote(str(working_dir))}",
        "srun --ntasks-per-node=1 bash -c " + shlex.quote(
            'exec ' + " ".join(shlex.quote(part) for part in agents_argv)
            + f' --gpus "${{CUDA_VISIBLE_DEVICES:-{default_gpus}}}"'),
        "",
    ]
    return "\n".join(lines)


def parse_gpus(text: str) -> tuple[str, ...]:
    """``"0,1, 2"`` -> ``("0", "1", "2")``; ValueError for an empty or malformed list."""
    gpus = tuple(part.strip() for part in text.split(","))
    if not gpus or any(not gpu for gpu in gpus):
        raise ValueError(f"expected GPU indices separated by commas, like 0,1,2,3; got {text!r}.")
    if len(set(gpus)) != len(gpus):
        raise ValueError(f"each GPU may appear once in {text!r}; "
                         "to run several per GPU use --per-gpu.")
    return gpus
