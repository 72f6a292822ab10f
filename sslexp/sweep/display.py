"""What ``sslexp sweep local`` shows while it runs: a bar over the planned runs, the runs in
flight under it (name, phase, epoch k/N), automatic pretraining announced as it starts,
and the time left. On a terminal the run lines update in place; in a log, a line is
printed when a run changes phase and a summary every minute."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO

from sslexp.sweep.ledger import Ledger
from sslexp.sweep.monitor import InFlight, format_duration, in_flight, run_seconds, time_left

POLL_S = 1.0
LOG_SUMMARY_EVERY_S = 60.0


class SweepDisplay:
    """Thread-safe: workers report run ends, a poller reads progress files."""

    def __init__(
        self,
        ledger: Ledger,
        workers: int,
        stream: TextIO | None = None,
        interactive: bool | None = None,
    ):
        self.ledger = ledger
        self.workers = workers
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self._bar = None
        self._run_lines: list = []
        self._lock = threading.Lock()
        self._not_finished = {"failed": 0, "interrupted": 0}
        self._phases: dict[str, tuple] = {}
        self._announced: set[str] = set()
        self._last_summary = time.monotonic()
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self._total: int | None = None

    def open(self, total: int | None, initial: int, description: str, poll: bool = True) -> None:
        from tqdm import tqdm

        self._total = total
        bar_format = (
            ("{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} runs [{elapsed}{postfix}]")
            if total
            else None
        )
        self._bar = tqdm(
            total=total,
            initial=initial,
            desc=description,
            unit="run",
            file=self.stream,
            dynamic_ncols=True,
            bar_format=bar_format,
        )
        if self.interactive:
            self._run_lines = [
                tqdm(
                    total=0, position=index + 1, bar_format="{desc}", file=self.stream, leave=False
                )
                for index in range(self.workers)
            ]
        if poll:
            self._poller = threading.Thread(
                target=self._poll_loop, name="sweep-display", daemon=True
            )
            self._poller.start()

    def say(self, text: str) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.write(text, file=self.stream)
            else:
                print(text, file=self.stream, flush=True)

    def run_ended(self, run_id: str, entry: dict) -> None:
        with self._lock:
            if self._bar is None:
                return
            if entry["state"] == "finished":
                self._bar.update(1)
            elif entry["state"] in self._not_finished:
                self._not_finished[entry["state"]] += 1
                self._bar.write(
                    f"{entry.get('name') or run_id} {entry['state']}: {entry.get('error')}",
                    file=self.stream,
                )
            self._bar.refresh()

    def poll(self) -> list[InFlight]:
        """Read the ledger and the progress files once and show what they say."""
        try:
            data = self.ledger.read()
        except ValueError:  # being repaired by hand: show nothing new this time
            return []
        flying = in_flight(self.ledger, data)
        left = self._time_left(data, flying)
        for run in flying:
            self._announce(run)
        with self._lock:
            if self._bar is None:
                return flying
            postfix = [f"{state} {count}" for state, count in self._not_finished.items() if count]
            postfix.append(
                f"~{format_duration(left)} left" if left is not None else "time left: estimating"
            )
            self._bar.set_postfix_str(", ".join(postfix), refresh=False)
            if self.interactive:  # a log shows the bar only when a run ends
                self._bar.refresh()
                self._show_in_place(flying)
            else:
                self._log_changes(flying, left)
        return flying

    def close(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=5)
        with self._lock:
            for line in self._run_lines:
                line.close()
            if self._bar is not None:
                counts = [
                    f"{state} {count}" for state, count in self._not_finished.items() if count
                ]
                self._bar.set_postfix_str(", ".join(counts), refresh=False)  # no time left
                self._bar.close()
            self._run_lines, self._bar = [], None

    def _poll_loop(self) -> None:
        while not self._stop.wait(POLL_S):
            self.poll()

    def _time_left(self, data: dict[str, Any], flying: list[InFlight]) -> float | None:
        if self._total is None:
            return None
        states = [entry.get("state") for entry in data.get("runs", {}).values()]
        settled = sum(state in ("finished", "failed", "running") for state in states)
        queued = max(0, self._total - settled)
        return time_left(flying, queued, self.workers, run_seconds(self.ledger, data))

    def _announce(self, run: InFlight) -> None:
        if run.phase != "pretrain" or run.run_id in self._announced:
            return
        self._announced.add(run.run_id)
        if run.waiting:
            self.say(f"{run.name}: {run.detail or 'waiting for its backbone'}")
        else:
            self.say(
                f"{run.name}: no cached backbone, so it pretrains one first "
                f"({run.epochs} pretext epochs); runs needing the same backbone wait"
            )

    def _show_in_place(self, flying: list[InFlight]) -> None:
        for index, line in enumerate(self._run_lines):
            text = f"  {flying[index].describe()}" if index < len(flying) else ""
            if index == len(self._run_lines) - 1 and len(flying) > len(self._run_lines):
                text += f"  (+{len(flying) - len(self._run_lines)} more)"
            line.set_description_str(text, refresh=True)

    def _log_changes(self, flying: list[InFlight], left: float | None) -> None:
        for run in flying:
            phase = (run.phase, run.waiting)
            if self._phases.get(run.run_id) != phase:
                self._phases[run.run_id] = phase
                self._bar.write(f"  {run.describe()}", file=self.stream)
        if flying and time.monotonic() - self._last_summary >= LOG_SUMMARY_EVERY_S:
            self._last_summary = time.monotonic()
            runs = "; ".join(run.describe() for run in flying)
            remaining = f", ~{format_duration(left)} left" if left is not None else ""
            self._bar.write(f"in flight: {runs}{remaining}", file=self.stream)
