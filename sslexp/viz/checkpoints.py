"""What a run directory says about its checkpoint: its results file, the data set
it was trained on, and the pretext model behind an ssl run."""

from __future__ import annotations

import json
from pathlib import Path

RESULTS_FILE = "results.json"


def run_results(path: str | Path) -> dict | None:
    """The results.json of a run directory (or of the directory holding a .keras file)."""
    path = Path(path)
    directory = path if path.is_dir() else path.parent
    try:
        return json.loads((directory / RESULTS_FILE).read_text())
    except (OSError, ValueError):
        return None


def pretext_checkpoint_for(path: str | Path) -> Path | None:
    """The pretext.keras next to the backbone an ssl run started from, when it exists."""
    results = run_results(path) or {}
    pretrained = (results.get("model") or {}).get("pretrained") or {}
    backbone_path = pretrained.get("path") if isinstance(pretrained, dict) else pretrained
    if not backbone_path:
        return None
    candidate = Path(backbone_path).parent / "pretext.keras"
    return candidate if candidate.is_file() else None


def trained_on(paths) -> dict:
    """``dataset`` and ``image_size`` from the first run config that names them."""
    found = {}
    for path in paths:
        config = (run_results(path) or {}).get("config") or {}
        for key in ("dataset", "image_size"):
            if config.get(key) is not None:
                found.setdefault(key, config[key])
    return found
