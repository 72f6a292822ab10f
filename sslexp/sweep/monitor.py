"""What a running sweep is doing: its runs in flight (phase, epoch, what is left of them)
and an estimate of the time left, read from the ledger and each run's progress file.

Only files are read, so this works whatever executes the runs and from any
process (the sweep's own, or a second one watching the same directory).
"""

from __future__ import annotations

import datetime
import statistics
import time
from dataclasses import dataclass
from typing import Any

from sslexp.runs.protocol import read_progress
from sslexp.sweep.ledger import Ledger


@dataclass(frozen=True)
class InFlight:
    """One running run, as its progress file describes it (phase None: not started yet)."""

    run_id: str
    name: str
    phase: str | None = None
    epoch: int = 0
    epochs: int = 0
    step: int | None = None
    steps: int | None = None
    detail: str | None = None
    phase_seconds_left: float | None = None  # at most: early stopping may end it sooner

    @property
    def waiting(self) -> bool:
        return self.phase == "pretrain" and self.epoch == 0

    def describe(self) -> str:
        """``ssl-p0.05-fold0  pretrain  epoch 3/15  step 40/200  ~2 min``."""
        if self.phase is None:
            return f"{self.name}  starting"
        if self.waiting:
            return f"{self.name}  pretrain  {self.detail or 'waiting for its backbone'}"
        parts = [self.name, self.phase, f"epoch {self.epoch}/{self.epochs}"]
        if self.step is not None and self.steps:
            parts.append(f"step {self.step}/{self.steps}")
        if self.phase_seconds_left is not None:
            parts.append(f"{format_duration(self.phase_seconds_left)} left at most")
        return "  ".join(parts)


def in_flight(ledger: Ledger, data: dict[str, Any], now: float | None = None) -> list[InFlight]:
    """The running runs, in the order they started."""
    now = time.time() if now is None else now
    running = [
        (run_id, entry)
        for run_id, entry in data.get("runs", {}).items()
        if entry.get("state") == "running"
    ]
    running.sort(key=lambda item: item[1].get("started_at") or "")
    return [_from_progress(run_id, entry, ledger, now) for run_id, entry in running]


def _from_progress(run_id: str, entry: dict[str, Any], ledger: Ledger, now: float) -> InFlight:
    name = entry.get("name") or run_id
    progress = read_progress(ledger.run_dir(entry)) if entry.get("run_dir") else None
    if progress is None:
        return InFlight(run_id, name)
    phase = progress["phase"]
    return InFlight(
        run_id,
        name,
        phase,
        int(progress.get("epoch") or 0),
        int(progress.get("epochs") or 0),
        progress.get("step"),
        progress.get("steps"),
        progress.get("detail"),
        phase_seconds_left(progress, now),
    )


def phase_seconds_left(progress: dict[str, Any], now: float) -> float | None:
    """The current phase's remaining seconds at its pace so far (all epochs run)."""
    epochs = progress.get("epochs") or 0
    epoch = progress.get("epoch") or 0
    steps, step = progress.get("steps"), progress.get("step") or 0
    started = ((progress.get("phases") or {}).get(progress["phase"]) or {}).get("started_at")
    if not epochs or not epoch or started is None:
        return None
    within = step / steps if steps else 0.0
    done = (epoch - 1 + min(within, 1.0)) / epochs
    if done <= 0:
        return None
    elapsed = max(0.0, float(progress.get("updated_at") or now) - float(started))
    return elapsed * (1 - done) / done


def run_seconds(ledger: Ledger, data: dict[str, Any]) -> list[float]:
    """How long the finished runs took, without any backbone pretraining they did first."""
    seconds = []
    for entry in data.get("runs", {}).values():
        if entry.get("state") != "finished":
            continue
        started = _timestamp(entry.get("started_at"))
        finished = _timestamp(entry.get("finished_at"))
        if started is None or finished is None:
            continue
        progress = read_progress(ledger.run_dir(entry)) if entry.get("run_dir") else None
        pretrain = ((progress or {}).get("phases") or {}).get("pretrain") or {}
        pretraining = (
            pretrain["ended_at"] - pretrain["started_at"]
            if {"started_at", "ended_at"} <= set(pretrain)
            else 0.0
        )
        seconds.append(max(0.0, finished - started - pretraining))
    return seconds


def time_left(
    flying: list[InFlight], queued: int, workers: int, finished_seconds: list[float]
) -> float | None:
    """Seconds until the sweep ends: each run in flight finishes its phase (one still
    pretraining, waiting or starting then trains), the queued ones take a typical run's
    time, spread over the workers. None until there is anything to go by."""
    typical = statistics.median(finished_seconds) if finished_seconds else None
    if typical is None:  # nothing finished yet: the longest training in flight will do
        training = [
            run.phase_seconds_left
            for run in flying
            if run.phase == "train" and run.phase_seconds_left is not None
        ]
        typical = max(training) if training else None
    parts = [typical] * queued
    for run in flying:
        if run.phase == "train":
            parts.append(run.phase_seconds_left if run.phase_seconds_left is not None else typical)
        elif run.phase == "pretrain" and not run.waiting:
            parts += [run.phase_seconds_left, typical]
        else:
            parts.append(typical)
    if any(part is None for part in parts):
        return None
    return sum(parts) / max(1, workers)


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 90:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _timestamp(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None
