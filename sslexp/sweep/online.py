"""Sweeps on the W&B server: create one through ``wandb.sweep``, write the sbatch script
that starts agents on every node of a Slurm job, and find the ``wandb`` executable.
The agents themselves are ``agent_pool`` (this machine's agent processes) and
``agent`` (one agent process).

The YAML is first checked with the open-source engine's schema, so a typo is
reported before anything reaches the server.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from sslexp.runs.wandb_target import WandbTarget
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




@dataclass(frozen=True)
class CreatedSweep:
    sweep_id: str
    sweep_path: str  # entity/project/id


def create_online_sweep(spec: SweepSpec, target: WandbTarget) -> CreatedSweep:
    """Create the sweep in ``target`` through ``wandb.sweep`` (its id comes back from the
    API, whatever WANDB_SILENT says); WandbUnavailable says what went wrong.

    wandb makes the sweep's entity and project the process defaults, which is how the
    default entity is learnt when none was given.
    """
    import wandb

    from sslexp.runs.wandb_errors import check_reachable, explain

    check_reachable()
    config = {key: value for key, value in spec.raw.items() if key not in ("entity", "project")}
    printed = io.StringIO()  # wandb prints the id and URL itself; sslexp prints them once
    try:
        with contextlib.redirect_stdout(printed):
            sweep_id = wandb.sweep(sweep=config, entity=target.entity, project=target.project)
    except Exception as error:  # the client raises several types for auth and network trouble
        raise explain(error, f"entity/project {target.path()}") from None
    entity = target.entity or os.environ.get("WANDB_ENTITY")
    return CreatedSweep(sweep_id, WandbTarget(entity, target.project).path(sweep_id))


def check_sweep_exists(sweep_path: str) -> None:
    """WandbUnavailable unless W&B answers for ``sweep_path`` (no key, a rejected key, no
    network, no such entity, project or sweep), before any agent starts."""
    import wandb

    from sslexp.runs.wandb_errors import check_reachable, explain

    check_reachable()
    try:
        sweep = wandb.Api().sweep(sweep_path)
    except Exception as error:  # the client raises several types for auth and network trouble
        raise explain(error, f"sweep {sweep_path}") from None
    if sweep is None:
        raise explain(LookupError(f"sweep {sweep_path} not found"), f"sweep {sweep_path}")


def agent_hints(sweep_path: str, gpus: str = "0") -> list[str]:
    """Commands to print after creating a sweep."""
    return [
        f"sslexp sweep agents {sweep_path} --gpus {gpus}",
        f"sslexp sweep agents {sweep_path} --gpus {gpus} --slurm agents.sbatch --nodes 2"
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
