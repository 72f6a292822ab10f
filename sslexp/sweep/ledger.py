"""The sweep directory's run table, ``ledger.json``, shared by every worker, and what
a finished run process means for it.

Layout of a sweep directory (the report reads it)::

    <dir>/sweep.yaml                  copy of the sweep YAML
    <dir>/ledger.json                 {"sweep": name, "runs": {run_id: entry}}
    <dir>/ledger.previous.json        the ledger as it was before its last change
    <dir>/runs/<name>/                the run directory (its record and other files)
    <dir>/partial/<name>/attempt-N    files of an interrupted or failed attempt

An entry holds ``config`` (flat parameter values), ``name`` (readable, e.g.
``ssl-p0.05-fold0``), ``run_dir`` (relative to the sweep directory),
``wandb_id`` (the W&B run id the run recorded), ``state``
(pending|running|finished|failed|interrupted), ``exit_code``,
``results_file`` and ``wandb_dir``, ``cuda_visible_devices``, ``worker`` (name,
host, pid and start time of the worker process, plus those of the run's
process), ``started_at`` and ``finished_at`` (ISO 8601, UTC), ``attempts``,
``kills`` (attempts whose process died by a signal it could not catch) and
``error``. The ledger's ``max_kills`` is the limit on ``kills``: a run that
reaches it is failed, not redone.

Every change happens under a file lock and is written to a temporary file that
replaces the ledger, so readers never see half a file and two workers never
claim the same run. The version before each change is kept beside it, so a
ledger damaged by hand or by a full disk can be put back; a malformed ledger is
an error that says so, never read as an empty sweep.

A run counts as finished only when it exited 0 and its record says
``finished``; a run that died by a signal (SIGINT/SIGTERM/SIGHUP asking it to
stop, or SIGKILL from the out-of-memory killer, a crash), or whose record says
``interrupted``, is interrupted (run again on resume); anything else failed.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import signal
import string
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from sslexp.runs.record import (
    RESULTS_FILE,
    Record,
    file_mode,
    read_record,
    write_atomic,
    write_json_atomic,
)

STATES = ("pending", "running", "finished", "failed", "interrupted")
DEFAULT_MAX_KILLS = 3
LEDGER_NAME = "ledger.json"
PREVIOUS_LEDGER_NAME = "ledger.previous.json"
RUNS_DIR = "runs"
PARTIAL_DIR = "partial"
SWEEP_COPY = "sweep.yaml"

_RUN_ID_ALPHABET = string.ascii_lowercase + string.digits
_SHORT_NAMES = {
    "label_fraction": "p",
    "fold": "fold",
    "pretext_unlabeled_fraction": "u",
    "seed": "seed",
}


def new_run_id(taken: set[str] | dict[str, Any]) -> str:
    """An 8-character id in W&B's style, unused in this sweep."""
    while True:
        run_id = "".join(secrets.choice(_RUN_ID_ALPHABET) for _ in range(8))
        if run_id not in taken:
            return run_id


def readable_name(values: dict[str, Any], varying: list[str]) -> str:
    """A run name from the parameters that vary in the sweep: ``ssl-p0.05-fold0``."""
    parts = [str(values["method"])] if "method" in varying else []
    for name in varying:
        if name == "method":
            continue
        value = values.get(name)
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        parts.append(f"{_SHORT_NAMES[name]}{shown}" if name in _SHORT_NAMES else f"{name}-{shown}")
    text = "-".join(parts) or "run"
    return re.sub(r"[^A-Za-z0-9.=_-]+", "_", text)[:80]


def unique_name(name: str, run_id: str, runs: dict[str, Any]) -> str:
    taken = {entry.get("name") for entry in runs.values()}
    return name if name not in taken else f"{name}-{run_id}"


def new_entry(config: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    return {
        "config": dict(config),
        "name": name,
        "run_dir": None,
        "wandb_id": None,
        "state": "pending",
        "exit_code": None,
        "results_file": None,
        "wandb_dir": None,
        "cuda_visible_devices": None,
        "worker": None,
        "started_at": None,
        "finished_at": None,
        "attempts": 0,
        "kills": 0,
        "error": None,
    }


class LedgerError(ValueError):
    """A ledger that cannot be used; the message says how to recover."""


class Ledger:
    """``ledger.json`` in one sweep directory, read freely and changed under a lock."""

    def __init__(self, sweep_dir: Path, lock_timeout_s: float = 120.0):
        self.sweep_dir = Path(sweep_dir)
        self.path = self.sweep_dir / LEDGER_NAME
        self.previous_path = self.sweep_dir / PREVIOUS_LEDGER_NAME
        self._lock = FileLock(str(self.path) + ".lock", timeout=lock_timeout_s, mode=file_mode())

    def run_dir(self, entry: dict[str, Any]) -> Path:
        """The directory of a run (``runs/<name>``; older ledgers named its results file)."""
        relative = entry.get("run_dir") or Path(entry["results_file"]).parent
        return self.sweep_dir / relative

    def partial_dir(self, entry: dict[str, Any], attempt: int) -> Path:
        return self.sweep_dir / PARTIAL_DIR / self.run_dir(entry).name / f"attempt-{attempt}"

    def record_of(self, entry: dict[str, Any], complete: bool = False) -> Record | None:
        """The run's record, or None when it is missing or unreadable (with ``complete``:
        or finished without the sections a finished record holds)."""
        if not entry.get("run_dir") and not entry.get("results_file"):
            return None
        return read_record(self.run_dir(entry), complete)

    def read(self) -> dict[str, Any]:
        """The current ledger (no lock needed: the file is always replaced whole)."""
        return self._parse(self._read_text())

    def _read_text(self) -> str | None:
        try:
            return self.path.read_text()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as error:
            raise self._error(f"cannot be read ({error})") from error

    def _parse(self, text: str | None) -> dict[str, Any]:
        if text is None:
            return {"sweep": None, "runs": {}}
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise self._error(f"is not valid JSON ({error})") from error
        problem = ledger_problem(data)
        if problem:
            raise self._error(f"is not a sweep ledger: {problem}")
        data.setdefault("runs", {})
        for entry in data["runs"].values():
            entry.setdefault("attempts", 0)
            entry.setdefault("kills", 0)
        return data

    def _error(self, problem: str) -> LedgerError:
        if self.previous_path.is_file():
            recovery = (
                f"Its version before the last change is {self.previous_path}: "
                f"`cp {self.previous_path} {self.path}` and run the same command again "
                "(runs it lists as running are run again), or pass another --dir."
            )
        else:
            recovery = (
                f"Restore it from a backup, or pass another --dir to start the sweep "
                f"anew (the runs under {self.sweep_dir / RUNS_DIR} are kept)."
            )
        return LedgerError(f"{self.path} {problem}. {recovery}")

    def check_grid(self, data: dict[str, Any], parameters: dict[str, Any]) -> None:
        """Refuse a ledger whose entries hold values the sweep's grid does not have (an
        edited entry would otherwise be a point of its own, run and reported twice)."""
        problem = grid_problem(data, parameters)
        if problem:
            raise self._error(f"does not match the sweep's parameters: {problem}")

    def initialise(self, sweep_name: str) -> None:
        """Create an empty ledger for ``sweep_name`` unless one exists."""
        with self.transaction() as data:
            if data.get("sweep") is None:
                data["sweep"] = sweep_name

    @contextlib.contextmanager
    def transaction(self) -> Iterator[dict[str, Any]]:
        """Hold the lock, yield the ledger to change in place, then write it back."""
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        with self._lock:
            text = self._read_text()
            data = self._parse(text)
            yield data
            if text is not None:
                write_atomic(self.previous_path, text.encode())
            write_json_atomic(self.path, data)


def ledger_problem(data: Any) -> str | None:
    """What makes ``data`` unusable as a ledger, or None."""
    if not isinstance(data, dict):
        return f"it holds a JSON {type(data).__name__}, not an object"
    runs = data.get("runs", {})
    if not isinstance(runs, dict):
        return f"`runs` is a {type(runs).__name__}, not an object of run entries"
    for run_id, entry in runs.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
            return f"run {run_id!r} is not an entry with a `config`"
        if entry.get("state") not in STATES:
            return f"run {run_id!r} has state {entry.get('state')!r} (allowed: {', '.join(STATES)})"
    return None


def grid_problem(data: dict[str, Any], parameters: dict[str, Any]) -> str | None:
    """The first ledger entry whose config names a parameter the sweep lacks, or a value
    outside a parameter's ``value``/``values``; None when every entry fits."""
    allowed = {}
    for name, spec in (parameters or {}).items():
        if isinstance(spec, dict) and "value" in spec:
            allowed[name] = {_same(spec["value"])}
        elif isinstance(spec, dict) and isinstance(spec.get("values"), list):
            allowed[name] = {_same(value) for value in spec["values"]}
        else:
            allowed[name] = None  # a distribution: any value
    for run_id, entry in data.get("runs", {}).items():
        for name, value in entry["config"].items():
            if name not in allowed:
                return f"run {run_id!r} has parameter {name!r}, which the sweep does not"
            if allowed[name] is not None and _same(value) not in allowed[name]:
                return (
                    f"run {run_id!r} has {name}={value!r}, not one of the sweep's values for {name}"
                )
    return None


def _same(value: Any):
    """1, 1.0 and "1" are one grid value."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    try:
        return repr(float(value))
    except (TypeError, ValueError):
        return repr(str(value)) if not isinstance(value, (list, dict)) else json.dumps(value)


_INTERRUPTING_SIGNALS = {int(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}


@dataclass(frozen=True)
class Outcome:
    state: str
    error: str | None
    killed: bool = False  # died by a signal it could not catch (counts towards max_kills)


def run_state(entry: dict[str, Any] | None, record: Record | None) -> str:
    """What a run amounts to, the one rule of the sweep and the report.

    With a ledger entry, its state stands, except that a run counts as finished
    only while its record says so: one whose results are gone or unreadable is
    interrupted, and a resumed sweep runs it again. Without a ledger (runs found
    on disk) the record alone says; no record is ``missing``.
    """
    if entry is None:
        return record.state if record is not None else "missing"
    state = str(entry.get("state") or "pending")
    if state == "finished" and (record is None or not record.is_finished):
        return "interrupted"
    return state


def classify(exit_code: int, record: Record | None, log_tail: str = "") -> Outcome:
    """Turn an exit status and the run's record into a ledger state and error text."""
    state = record.state if record is not None else None
    if exit_code == 0 and state == "finished":
        return Outcome("finished", None)
    signum = _death_signal(exit_code, state)
    if signum in _INTERRUPTING_SIGNALS:
        return Outcome("interrupted", f"stopped by {_signal_name(signum)}")
    if state == "interrupted":
        return Outcome("interrupted", record.error_text() or "the run reports it was interrupted")
    if signum is not None:
        return Outcome("interrupted", f"killed by {_signal_name(signum)}", killed=True)
    if exit_code == 0:
        reason = f"exited 0 but {RESULTS_FILE} says state {state!r} (expected 'finished')"
    else:
        reason = f"exited with status {exit_code}"
    detail = (record.error_text() if record is not None else None) or log_tail.strip()
    return Outcome("failed", f"{reason}: {detail}" if detail else reason)


def _death_signal(exit_code: int, record_state: str | None) -> int | None:
    """The signal that ended the run: a negative status, or 128 + N from a shell in between
    while the record still says running (so the run never got to record its end)."""
    if exit_code < 0:
        return -exit_code
    if exit_code > 128 and record_state in (None, "running"):
        try:
            return int(signal.Signals(exit_code - 128))
        except ValueError:
            return None
    return None


def count_kill(entry: dict[str, Any], max_kills: int, reason: str) -> None:
    """Count an attempt that died by a signal: interrupted (a plain rerun redoes it) until
    ``max_kills`` such deaths, then failed, so a run that always dies stops being redone."""
    entry["kills"] = entry.get("kills", 0) + 1
    if entry["kills"] < max_kills:
        entry.update(
            state="interrupted",
            error=f"{reason} (death {entry['kills']} of at most {max_kills}); "
            "run the same command again to redo it",
        )
        return
    entry.update(
        state="failed",
        error=f"{reason}; its process died like this in {entry['kills']} attempts, so it is not "
        f"run again (limit {max_kills}, --max-kills). SIGKILL often means the "
        "out-of-memory killer: free memory or run fewer --workers, then rerun with "
        "--retry-failed.",
    )


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


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
