"""Measurements that need a given Keras backend run in a child process with
``KERAS_BACKEND`` set, since Keras picks its backend once, at import.

    python benchmarks/bench_backends.py BACKEND MODULE:FUNCTION SETTINGS_JSON

runs ``FUNCTION(settings)`` from ``benchmarks/MODULE.py`` under BACKEND and
prints its JSON result as the last line.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPOSITORY = BENCH_DIR.parent
BACKEND_MODULES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


def available_backends(wanted: list[str] | None = None) -> list[str]:
    """The Keras backends (of ``wanted``, default all) whose library is installed here,
    TensorFlow first."""
    return [
        backend
        for backend, module in BACKEND_MODULES.items()
        if (wanted is None or backend in wanted) and importlib.util.find_spec(module) is not None
    ]


def run_in_backend(backend: str, target: str, settings: dict, timeout_s: float = 1800) -> dict:
    """``target`` (``module:function``) called with ``settings`` in a fresh process under
    ``backend``; raises RuntimeError with the child's error output if it fails."""
    environment = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "WANDB_MODE": "disabled",
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")])
        ),
    }
    completed = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            backend,
            target,
            json.dumps(settings, default=str),
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"{target} under {backend} failed (exit {completed.returncode}):\n"
            f"{completed.stderr[-3000:]}"
        )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    backend, target, settings = argv
    if os.environ.get("KERAS_BACKEND") != backend:
        raise SystemExit(f"run with KERAS_BACKEND={backend}")
    sys.path[:0] = [str(BENCH_DIR), str(REPOSITORY)]
    module_name, function_name = target.split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    print(json.dumps(function(json.loads(settings))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
