"""How far a run has got, in a small file of its run directory (``PROGRESS_FILE``).

A Keras callback rewrites it at each epoch and every few seconds within one:
the phase (``pretrain`` while a train run pretrains its backbone first, then
``train``), the epoch and step, and when each phase started and ended. Anyone
can poll it, whatever executes the run: ``sslexp sweep local`` shows its runs
in flight and estimates the time left from it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from sslexp.runs.record import PROGRESS_FILE, write_json_atomic

PHASES = ("pretrain", "train")
WRITE_EVERY_S = 2.0


def progress_path(run_dir: Path) -> Path:
    return Path(run_dir) / PROGRESS_FILE


def read_progress(run_dir: Path) -> dict | None:
    """The run's progress, or None when it has written none (or it cannot be read)."""
    return _read(progress_path(run_dir))


def _read(path: Path) -> dict | None:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("phase") in PHASES else None


def write_progress(path: Path, phase: str, epoch: int, epochs: int, step: int | None = None,
                   steps: int | None = None, detail: str | None = None,
                   ended: bool = False) -> dict:
    """Rewrite the progress file at ``path``, keeping the start and end times of its phases."""
    previous = _read(path) or {}
    phases = dict(previous.get("phases") or {})
    now = time.time()
    timing = dict(phases.get(phase) or {"started_at": now})
    if ended:
        timing["ended_at"] = now
    phases[phase] = timing
    data = {"phase": phase, "epoch": epoch, "epochs": epochs, "step": step, "steps": steps,
            "detail": detail, "updated_at": now, "phases": phases}
    write_json_atomic(path, data)
    return data


def note_waiting(path: Path | None, backbone_dir: Path, epochs: int) -> None:
    """Say that the run waits for a backbone another run is pretraining."""
    if path is not None:
        write_progress(path, "pretrain", 0, epochs,
                       detail=f"waiting for {Path(backbone_dir).name}, pretrained by another run")


def callback(targets: list[Path], phase: str, detail: str | None = None):
    """A Keras callback writing progress to each file in ``targets``."""
    import keras

    class ProgressCallback(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self._epoch = 1
            self._last_write = 0.0

        def _write(self, step=None, ended=False):
            self._last_write = time.monotonic()
            for target in targets:
                write_progress(target, phase, self._epoch, self.params.get("epochs") or 0,
                               step, self.params.get("steps"), detail, ended)

        def on_epoch_begin(self, epoch, logs=None):
            self._epoch = epoch + 1
            self._write(step=0)

        def on_train_batch_end(self, batch, logs=None):
            if time.monotonic() - self._last_write >= WRITE_EVERY_S:
                self._write(step=batch + 1)

        def on_epoch_end(self, epoch, logs=None):
            self._write(step=self.params.get("steps"))

        def on_train_end(self, logs=None):
            self._write(step=self.params.get("steps"), ended=True)

    return ProgressCallback()
