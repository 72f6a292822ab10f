"""The GPUs of this machine, and GPU ids checked against them before anything starts.

``nvidia-smi -L`` lists them without importing TensorFlow (seconds) or touching
CUDA. An id is what ``CUDA_VISIBLE_DEVICES`` takes: an index or a GPU/MIG UUID.
A machine without ``nvidia-smi`` (or whose driver does not answer) has no GPU
to give: asking for one there is an error, since the runs would otherwise
quietly train on the CPU.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

_GPU_LINE = re.compile(r"^GPU (\d+): (.*?) \(UUID: (GPU-[^)]+)\)")
_MIG_LINE = re.compile(r"^\s+MIG .*\(UUID: (MIG-[^)]+)\)")
_TIMEOUT_S = 30


@dataclass(frozen=True)
class Gpu:
    index: str
    name: str
    uuid: str
    mig_uuids: tuple[str, ...] = ()

    @property
    def ids(self) -> set[str]:
        """Every spelling of this GPU that CUDA_VISIBLE_DEVICES accepts."""
        return {self.index, self.uuid, *self.mig_uuids}

    def describe(self) -> str:
        return f"GPU {self.index}: {self.name} ({self.uuid})"


@dataclass(frozen=True)
class Gpus:
    found: tuple[Gpu, ...]
    problem: str | None = None  # why none could be listed


def parse_listing(text: str) -> tuple[Gpu, ...]:
    """The GPUs in ``nvidia-smi -L`` output, with the MIG devices of each."""
    gpus: list[Gpu] = []
    for line in text.splitlines():
        gpu = _GPU_LINE.match(line)
        mig = _MIG_LINE.match(line)
        if gpu:
            gpus.append(Gpu(gpu.group(1), gpu.group(2), gpu.group(3)))
        elif mig and gpus:
            last = gpus[-1]
            gpus[-1] = Gpu(last.index, last.name, last.uuid, (*last.mig_uuids, mig.group(1)))
    return tuple(gpus)


def find_gpus() -> Gpus:
    """The GPUs ``nvidia-smi -L`` lists, or none and why."""
    executable = shutil.which("nvidia-smi")
    if executable is None:
        return Gpus((), "nvidia-smi was not found on PATH")
    try:
        completed = subprocess.run(
            [executable, "-L"], capture_output=True, text=True, timeout=_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return Gpus((), f"`nvidia-smi -L` did not answer ({error})")
    if completed.returncode != 0:
        output = " ".join((completed.stdout + completed.stderr).split())
        return Gpus((), f"`nvidia-smi -L` failed with status {completed.returncode}: {output}")
    found = parse_listing(completed.stdout)
    return Gpus(found, None if found else "`nvidia-smi -L` lists no GPU")


def check_gpu_ids(ids: tuple[str, ...], gpus: Gpus) -> None:
    """ValueError naming the unknown ids and listing the GPUs present."""
    if not gpus.found:
        raise ValueError(
            f"this machine has no GPU to give ({gpus.problem}); leave out --gpus to run on the CPU."
        )
    known = set().union(*(gpu.ids for gpu in gpus.found))
    unknown = [gpu_id for gpu_id in ids if gpu_id not in known]
    if unknown:
        listing = "; ".join(gpu.describe() for gpu in gpus.found)
        raise ValueError(
            f"no GPU {', '.join(unknown)} on this machine. Present: {listing}. "
            "Give indices (0,1) or UUIDs."
        )


def gpu_slots(
    gpus: tuple[str, ...], per_gpu: int | None = None, slots: int | None = None
) -> list[str | None]:
    """The GPU each slot (a local worker or an online agent) sees, in start order; None:
    the CPU (the slot inherits ``CUDA_VISIBLE_DEVICES``).

    Default: ``per_gpu`` slots on each GPU (one without it), or ``slots`` in all.
    GPUs are dealt round-robin (0, 1, 0, 1), not in blocks (0, 0, 1, 1): slots
    start one after another, so the first ones, and a sweep with fewer runs
    than slots, spread over every GPU before any GPU gets a second.
    """
    if slots is not None and slots < 1:
        raise ValueError(f"--workers must be at least 1, got {slots}.")
    if per_gpu is not None and (per_gpu < 1 or not gpus or slots is not None):
        raise ValueError("--per-gpu N needs --gpus and replaces --workers (N workers per GPU).")
    if not gpus:
        return [None] * (slots or 1)
    total = slots or len(gpus) * (per_gpu or 1)
    return [gpus[index % len(gpus)] for index in range(total)]
