"""TensorFlow start-up settings shared by the commands that train."""

from __future__ import annotations

import os
import sys


def configure(seed: int) -> None:
    """Quiet logs, GPU memory on demand (runs can share a GPU), seeded everything."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    import keras
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            pass  # already initialised; the environment variable covers it
    keras.utils.set_random_seed(seed)


def fit_verbosity() -> int:
    """A live progress bar on a terminal, one line per epoch in logs."""
    return 1 if sys.stdout.isatty() else 2


def save_model_atomic(model, path) -> None:
    """Keras wants a .keras suffix, so write a hidden sibling and rename it."""
    from pathlib import Path

    path = Path(path)
    temporary = path.with_name(f".{path.stem}.partial.keras")
    model.save(temporary)
    os.replace(temporary, path)
