"""On-disk cache of decoded, resized arrays (one .npz per data set and size)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np


def read(cache_dir: Path, key: str) -> dict | None:
    path = cache_dir / f"{key}.npz"
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            return {
                "pool_images": data["pool_images"],
                "pool_labels": data["pool_labels"],
                "test_images": data["test_images"],
                "test_labels": data["test_labels"],
                "class_names": tuple(meta["class_names"]),
                "fingerprint": meta["fingerprint"],
                "skipped": meta["skipped"],
            }
    except (OSError, ValueError, KeyError):
        return None  # a damaged cache entry is rebuilt, never trusted


def write(cache_dir: Path, key: str, arrays: dict[str, np.ndarray], class_names,
          fingerprint: str, skipped: int) -> Path:
    """Write atomically so that parallel runs never read half a file."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    meta = json.dumps({"class_names": list(class_names), "fingerprint": fingerprint,
                       "skipped": skipped})
    handle, temporary = tempfile.mkstemp(dir=cache_dir, prefix=f".{key}.", suffix=".npz")
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, meta=np.array(meta), **arrays)
        os.replace(temporary, cache_dir / f"{key}.npz")
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return cache_dir / f"{key}.npz"
