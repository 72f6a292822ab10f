"""The sweep directory's run table, ``ledger.json``, shared by every worker.

Layout of a sweep directory (the report reads it)::

    <dir>/sweep.yaml                 copy of the sweep YAML
    <dir>/ledger.json                {"sweep": name, "runs": {run_id: entry}}
    <dir>/runs/<run_id>/results.json the run's results and its other files
    <dir>/partial/<run_id>/attempt-N files of an interrupted or failed attempt

An entry holds ``config`` (flat parameter values), ``state``
(pending|running|finished|failed|interrupted), ``exit_code``, ``results_file``
and ``wandb_dir`` (relative to the sweep directory), ``cuda_visible_devices``,
``worker`` (name, host, pid and start time of the worker process, plus those
of the run's process), ``started_at`` and ``finished_at`` (ISO 8601, UTC),
``attempts`` and ``error``.

Every change happens under a file lock and is written to a temporary file that
replaces the ledger, so readers never see half a file and two workers never
claim the same run.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import secrets
import string
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock

STATES = ("pending", "running", "finished", "failed", "interrupted")
LEDGER_NAME = "ledger.json"
RUNS_DIR = "runs"
PARTIAL_DIR = "partial"
RESULTS_NAME = "results.json"

_RUN_ID_ALPHABET = string.ascii_lowercase + string.digits


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to a temporary file beside ``path`` and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w") as handle:
            json.dump(data, handle, indent=2, sort_keys=False)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def new_run_id(taken: set[str] | dict[str, Any]) -> str:
    """An 8-character id in W&B's style, unused in this sweep."""
    while True:
        run_id = "".join(secrets.choice(_RUN_ID_ALPHABET) for _ in range(8))
        if run_id not in taken:
            return run_id


def new_entry(config: dict[str, Any]) -> dict[str, Any]:
    return {
        "config": dict(config),
        "state": "pending",
        "exit_code": None,
        "results_file": None,
        "wandb_dir": None,
        "cuda_visible_devices": None,
        "worker": None,
        "started_at": None,
        "finished_at": None,
        "attempts": 0,
        "error": None,
    }


class Ledger:
    """``ledger.json`` in one sweep directory, read freely and changed under a lock."""

    def __init__(self, sweep_dir: Path, lock_timeout_s: float = 120.0):
        self.sweep_dir = Path(sweep_dir)
        self.path = self.sweep_dir / LEDGER_NAME
        self._lock = FileLock(str(self.path) + ".lock", timeout=lock_timeout_s)

    def run_dir(self, run_id: str) -> Path:
        return self.sweep_dir / RUNS_DIR / run_id

    def partial_dir(self, run_id: str, attempt: int) -> Path:
        return self.sweep_dir / PARTIAL_DIR / run_id / f"attempt-{attempt}"

    def read(self) -> dict[str, Any]:
        """The current ledger (no lock needed: the file is always replaced whole)."""
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {"sweep": None, "runs": {}}
        except json.JSONDecodeError as error:
            raise ValueError(
                f"{self.path} is not valid JSON ({error}). Restore it or start the sweep in another --dir."
            ) from error
        data.setdefault("runs", {})
        return data

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
            data = self.read()
            yield data
            write_json_atomic(self.path, data)
