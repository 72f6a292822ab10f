"""What produced a result: library versions, git revision, host, command line."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path

PACKAGES = ("sslexp", "tensorflow", "tensorflow-cpu", "keras", "numpy", "scikit-learn",
            "tensorflow-datasets", "wandb", "sweeps")


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def git_revision(directory: Path | None = None) -> dict:
    """The revision of the source tree sslexp runs from (and whether it had local edits)."""
    directory = directory or Path(__file__).resolve().parent.parent
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
    try:
        return {"revision": git("rev-parse", "HEAD"),
                "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.SubprocessError):
        return {"revision": None, "dirty": None}


def provenance() -> dict:
    return {
        "versions": versions(),
        "git": git_revision(),
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "argv": sys.argv,
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
    }
