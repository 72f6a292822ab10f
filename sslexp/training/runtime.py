"""Start-up settings and Keras callbacks shared by pretraining and training."""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from pathlib import Path

from sslexp.runs.record import BACKUP_DIR, HISTORY_FILE, read_history


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
    path = Path(path)
    temporary = path.with_name(f".{path.stem}.partial.keras")
    model.save(temporary)
    os.replace(temporary, path)


def backup_callback(backup_dir):
    """Keras' BackupAndRestore keeping the previous backup too (``double_checkpoint``).

    A process killed while writing its very first backup leaves a truncated
    file and no previous one; that run restarts from epoch 1 with a warning
    instead of failing on every resume.
    """
    import keras

    class Backup(keras.callbacks.BackupAndRestore):
        def on_train_begin(self, logs=None):
            try:
                super().on_train_begin(logs)
            except OSError as error:
                warnings.warn(f"backup in {self.backup_dir} is unreadable ({error}); "
                              "starting from the first epoch")
                shutil.rmtree(self.backup_dir, ignore_errors=True)

    return Backup(str(backup_dir), double_checkpoint=True)


def checkpoint_callbacks(output_dir, best_path, monitor: str, mode: str, resume: bool,
                         weights_only: bool) -> list:
    """History log, best-epoch checkpoint and backup, in the order that survives a kill.

    The history row and the best checkpoint of an epoch are written before its
    backup, so a resumed run never lacks an epoch it skips. On resume, only an
    epoch better than those already seen replaces the best checkpoint.
    """
    import keras

    output_dir = Path(output_dir)
    history_path = output_dir / HISTORY_FILE
    previous = read_history(history_path) if resume and history_path.exists() else []
    pick = max if mode == "max" else min
    best_so_far = pick((row[monitor] for row in previous if monitor in row), default=None)
    return [
        keras.callbacks.CSVLogger(str(history_path), append=resume),
        keras.callbacks.ModelCheckpoint(str(best_path), monitor=monitor, mode=mode,
                                        save_best_only=True, save_weights_only=weights_only,
                                        initial_value_threshold=best_so_far),
        backup_callback(output_dir / BACKUP_DIR),
    ]
