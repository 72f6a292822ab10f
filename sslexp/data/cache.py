"""On-disk cache of decoded, resized arrays (one .npz per data set and size)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sslexp.runs.record import write_atomic


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
    meta = json.dumps({"class_names": list(class_names), "fingerprint": fingerprint,
                       "skipped": skipped})
    return write_atomic(Path(cache_dir) / f"{key}.npz",
                        lambda stream: np.savez(stream, meta=np.array(meta), **arrays))
