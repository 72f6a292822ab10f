"""A Keras callback that keeps a run's progress file up to date.

It rewrites the file (``sslexp.runs.protocol``) at each epoch and every few
seconds within one, so that anyone polling it, whatever executes the run, sees
the phase, epoch and step: ``sslexp sweep local`` shows its runs in flight and
estimates the time left from it.
"""

from __future__ import annotations

import time
from pathlib import Path

import keras

from sslexp.runs.protocol import write_progress

WRITE_EVERY_S = 2.0


class ProgressCallback(keras.callbacks.Callback):
    """Writes the progress of phase ``phase`` to each file in ``targets``."""

    def __init__(self, targets: list[Path], phase: str, detail: str | None = None):
        super().__init__()
        self.targets, self.phase, self.detail = list(targets), phase, detail
        self._epoch = 1
        self._last_write = 0.0

    def _write(self, step=None, ended=False):
        self._last_write = time.monotonic()
        for target in self.targets:
            write_progress(
                target,
                self.phase,
                self._epoch,
                self.params.get("epochs") or 0,
                step,
                self.params.get("steps"),
                self.detail,
                ended,
            )

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
