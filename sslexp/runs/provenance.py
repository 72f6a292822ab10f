"""What produced a result: library versions, git revision, host, command line."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path

# Report name -> distributions that provide it (TensorFlow ships as several builds).
PACKAGES = {
    "sslexp": ("sslexp",),
    "tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tensorflow-intel"),
    "keras": ("keras",),
    "jax": ("jax",),
    "torch": ("torch",),
    "numpy": ("numpy",),
    "scikit-learn": ("scikit-learn",),
    "tensorflow-datasets": ("tensorflow-datasets",),
    "wandb": ("wandb",),
    "sweeps": ("sweeps",),
}


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name, distributions in PACKAGES.items():
        for distribution in distributions:
            try:
                found[name] = f"{importlib.metadata.version(distribution)}"
            except importlib.metadata.PackageNotFoundError:
                continue
            if distribution != name:
                found[name] += f" ({distribution})"
            break
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


# The widest x86 vector extension decides which oneDNN kernels run, and so the last digits
# of every result: runs agree on one machine and differ (in distribution) across them.
INSTRUCTION_SETS = (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX"),
                    ("sse4_2", "SSE4.2"), ("asimd", "NEON"))


def cpu(cpuinfo: str | None = None) -> dict:
    """The CPU model, its widest vector instruction set (Linux ``/proc/cpuinfo``) and the
    cores this process may use."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip().lower(), value.strip())
    flags = set((fields.get("flags") or fields.get("features") or "").split())
    widest = next((name for flag, name in INSTRUCTION_SETS if flag in flags), None)
    return {"model": fields.get("model name") or platform.processor() or None,
            "instruction_set": widest, "cores": usable_cores()}


def usable_cores() -> int | None:
    """The cores this process may run on (a container's or taskset's share, not the host's):
    wall times are only comparable at the same count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count()


def provenance() -> dict:
    return {
        "cpu": cpu(),
        "versions": versions(),
        "git": git_revision(),
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "argv": sys.argv,
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
    }
