"""What one finished subprocess means for the ledger.

A run counts as finished only when it exited 0 and its results.json says
``state: finished``; a run stopped by SIGINT/SIGTERM/SIGHUP, or whose results
say ``interrupted``, is interrupted (run again on resume); anything else failed.
"""

from __future__ import annotations

import json
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_INTERRUPTING_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


@dataclass(frozen=True)
class Outcome:
    state: str
    error: str | None


def read_results(path: Path) -> dict[str, Any] | None:
    """The run's results.json, or None while it is missing or unreadable."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def results_state(results: dict[str, Any] | None) -> str | None:
    return results.get("state") if results else None


def classify(exit_code: int, results: dict[str, Any] | None, log_tail: str = "") -> Outcome:
    """Turn an exit status and the run's results into a ledger state and error text."""
    state = results_state(results)
    if exit_code == 0 and state == "finished":
        return Outcome("finished", None)
    if exit_code < 0 and -exit_code in {int(s) for s in _INTERRUPTING_SIGNALS}:
        return Outcome("interrupted", f"stopped by {_signal_name(-exit_code)}")
    if state == "interrupted":
        return Outcome("interrupted", _results_error(results) or "the run reports it was interrupted")
    if exit_code < 0:
        reason = f"killed by {_signal_name(-exit_code)}"
    elif exit_code == 0:
        reason = f"exited 0 but results.json says state {state!r} (expected 'finished')"
    else:
        reason = f"exited with status {exit_code}"
    detail = _results_error(results) or log_tail.strip()
    return Outcome("failed", f"{reason}: {detail}" if detail else reason)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _results_error(results: dict[str, Any] | None) -> str | None:
    error = (results or {}).get("error")
    if isinstance(error, dict):
        kind, message = error.get("type"), error.get("message")
        return f"{kind}: {message}" if kind else message
    return error if isinstance(error, str) else None


def last_line(path: Path, max_bytes: int = 4096) -> str:
    """The last non-empty line of a log file (the usual place of the error)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            tail = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    lines = [line for line in tail.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""
