"""Seconds per named step of a run, for its record: where a run's time goes."""

from __future__ import annotations

import contextlib
import time


class StepTimer:
    """Times named steps on the monotonic clock; ``seconds`` maps each to its total."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def step(self, name: str):
        started = time.monotonic()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.monotonic() - started
