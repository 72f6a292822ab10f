"""Find the ``wandb`` command line tool.

The one on PATH wins (so a wrapper or stand-in can replace it); otherwise the
one installed beside this Python, which is there even when the virtual
environment was never activated.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


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


def environment_with_this_python_first(env: dict[str, str]) -> dict[str, str]:
    """Put this Python's bin directory first on PATH.

    A ``wandb agent`` expands ``${interpreter}`` to plain ``python``; this makes
    that ``python`` the one with sslexp installed.
    """
    env = dict(env)
    bin_dir = str(Path(sys.executable).parent)
    parts = [part for part in env.get("PATH", "").split(os.pathsep) if part]
    if not parts or parts[0] != bin_dir:
        parts.insert(0, bin_dir)
    env["PATH"] = os.pathsep.join(parts)
    return env
