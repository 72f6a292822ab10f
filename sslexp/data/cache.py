"""On-disk cache of decoded, resized arrays (one .npz per data set and size).

An entry is trusted only whole: one that cannot be loaded for any reason
(truncated by a full disk or a kill, edited, from another version) is moved
aside as ``<name>.broken`` for inspection, reported in one warning line, and
rebuilt by the caller.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

from sslexp.runs.record import write_atomic

ARRAYS = ("pool_images", "pool_labels", "test_images", "test_labels")
BROKEN_SUFFIX = ".broken"


def read(cache_dir: Path, key: str) -> dict | None:
    """The cached entry, or None when there is none or it was damaged (then moved aside)."""
    path = Path(cache_dir) / f"{key}.npz"
    try:
        identity = _identity(path)
    except FileNotFoundError:
        return None
    try:
        return _load(path)
    except Exception as error:  # whatever is wrong, the entry is rebuilt
        _move_aside(path, identity, error)
        return None


def _load(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        arrays = {name: data[name] for name in ARRAYS}
    for split in ("pool", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 4 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(f"{split} images {images.shape} do not match labels {labels.shape}")
    return {
        **arrays,
        "class_names": tuple(meta["class_names"]),
        "fingerprint": str(meta["fingerprint"]),
        "skipped_files": _skipped_files(meta),
    }


def _skipped_files(meta: dict) -> tuple[str, ...]:
    """The unreadable files' names (an entry that only counted them is rebuilt to name them)."""
    if "skipped_files" not in meta and meta.get("skipped"):
        raise KeyError("skipped_files: the entry counts unreadable files without naming them")
    return tuple(str(name) for name in meta.get("skipped_files", ()))


def _identity(path: Path) -> tuple[int, int, int]:
    stat = path.stat()
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def _move_aside(path: Path, identity: tuple[int, int, int], error: Exception) -> None:
    """Keep the damaged file for inspection, unless another process already replaced it."""
    aside = path.with_name(path.name + BROKEN_SUFFIX)
    try:
        if _identity(path) != identity:
            return  # rebuilt meanwhile by a parallel run: that one is good
        os.replace(path, aside)
    except FileNotFoundError:
        return
    reason = " ".join(f"{type(error).__name__}: {error}".split())  # one line, whatever it says
    print(
        f"warning: data cache entry {path} cannot be loaded ({reason}); moved to "
        f"{aside.name} and rebuilt.",
        file=sys.stderr,
        flush=True,
    )


def write(
    cache_dir: Path,
    key: str,
    arrays: dict[str, np.ndarray],
    class_names,
    fingerprint: str,
    skipped_files: tuple[str, ...] = (),
) -> Path:
    """Write atomically so that parallel runs never read half a file."""
    meta = json.dumps(
        {
            "class_names": list(class_names),
            "fingerprint": fingerprint,
            "skipped": len(skipped_files),
            "skipped_files": list(skipped_files),
        }
    )
    return write_atomic(
        Path(cache_dir) / f"{key}.npz",
        lambda stream: np.savez(stream, meta=np.array(meta), **arrays),
    )
