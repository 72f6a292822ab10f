"""Results files: written atomically, so readers never see half a file."""

from __future__ import annotations

import csv
import datetime
import json
import math
import os
import tempfile
import traceback
from pathlib import Path

import numpy as np

SCHEMA_VERSION = 1
RESULTS_FILE = "results.json"


def _to_json(value):
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return _to_json(value.tolist())
    if isinstance(value, np.generic):
        return _to_json(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def write_json_atomic(path: Path, data: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump(_to_json(data), stream, indent=2)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def read_results(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def error_record(error: BaseException) -> dict:
    return {
        "type": type(error).__name__,
        "message": str(error),
        "traceback": "".join(traceback.format_exception(error)),
    }


def read_history(path: Path) -> list[dict]:
    """Keras' CSVLogger rows as dicts with a 1-based epoch (appended across resumes)."""
    with open(path, newline="") as stream:
        rows = [{k: float(v) for k, v in row.items() if v not in ("", None)}
                for row in csv.DictReader(stream)]
    by_epoch = {int(row["epoch"]) + 1: row for row in rows}  # a resumed epoch replaces its row
    return [{**row, "epoch": epoch} for epoch, row in sorted(by_epoch.items())]
