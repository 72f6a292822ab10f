"""The command line and environment of one run, built as ``wandb agent`` builds them.

The macro expansion (``${args}``, ``${args_no_hyphens}``, ``${args_json}``,
``${envvar:NAME}``, ...) reuses wandb's own functions, so a sweep YAML behaves the
same offline as under a real agent. One difference: ``${interpreter}`` is this
Python (``sys.executable``), not whatever ``python`` is first on PATH.
"""

from __future__ import annotations

import platform
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sslexp.sweep.engine import to_engine_config


def build_command(
    command_template: list[str],
    parameters: Mapping[str, Any],
    program: str | None = None,
    interpreter: str = sys.executable,
    args_json_file: Path | None = None,
) -> list[str]:
    """Expand the YAML's ``command`` for one run's parameters into an argv list."""
    from wandb.sdk.launch.sweeps import utils as sweep_utils

    template = sweep_utils.create_sweep_command(list(command_template))
    variables = sweep_utils.create_sweep_command_args({"args": to_engine_config(parameters)})
    variables["interpreter"] = [interpreter]
    variables["program"] = [program] if program else []
    variables["env"] = ["/usr/bin/env"] if platform.system() != "Windows" else []
    if args_json_file is not None:
        variables["args_json_file"] = [str(args_json_file)]
    argv: list[str] = []
    for part in template:
        part = str(part)
        if part.startswith("${") and part.endswith("}"):
            argv += [str(item) for item in variables.get(part[2:-1]) or []]
        else:
            argv.append(part)
    return argv


def uses_args_json_file(command_template: list[str]) -> bool:
    return "${args_json_file}" in command_template


def run_environment(
    base_env: Mapping[str, str],
    *,
    sweep_name: str,
    run_dir: Path,
    wandb_mode: str,
    cuda_visible_devices: str | None,
) -> dict[str, str]:
    """The run's environment: W&B offline by default, grouped by sweep, writing into its run dir."""
    env = dict(base_env)
    env.update(
        {
            "WANDB_MODE": wandb_mode,
            "SSLEXP_WANDB_MODE": wandb_mode,
            "WANDB_RUN_GROUP": sweep_name,
            "SSLEXP_GROUP": sweep_name,
            "SSLEXP_OUTPUT_DIR": str(run_dir),
            "WANDB_DIR": str(run_dir),
            # Runs sharing a GPU must not each reserve all of its memory at start.
            "TF_FORCE_GPU_ALLOW_GROWTH": "true",
        }
    )
    if cuda_visible_devices is not None:
        env["CUDA_VISIBLE_DEVICES"] = cuda_visible_devices
    return env


def describe_command(argv: list[str]) -> str:
    """A copy-pasteable rendering of argv for logs."""
    return " ".join(shlex.quote(part) for part in argv)
