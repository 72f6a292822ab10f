"""Group finished train runs by label fraction and compare ssl with scratch per fold."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from sslexp.results import RESULTS_FILE


def collect_finished(directories) -> list[dict]:
    runs = []
    for directory in directories:
        for path in sorted(Path(directory).rglob(RESULTS_FILE)):
            try:
                results = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if results.get("kind") == "train" and results.get("state") == "finished":
                runs.append(results)
    return runs


def comparison_rows(runs: list[dict]) -> list[dict]:
    """Per label fraction: mean/std per method and the mean paired (same fold) difference."""
    accuracy = defaultdict(dict)  # (fraction) -> {(method, fold): accuracy}
    labels = defaultdict(list)
    for results in runs:
        config = results["config"]
        key = (config["method"], config["fold"], config.get("seed", 0))
        accuracy[config["label_fraction"]][key] = results["test"]["accuracy"]
        labels[config["label_fraction"]].append(results["split"]["n_labels"])
    rows = []
    for fraction in sorted(accuracy):
        by_key = accuracy[fraction]

        def stats(method):
            values = [v for (m, _, _), v in by_key.items() if m == method]
            return (float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1
                    else 0.0) if values else None

        pairs = [by_key[("ssl", f, s)] - by_key[("scratch", f, s)]
                 for (m, f, s) in by_key if m == "ssl" and ("scratch", f, s) in by_key]
        rows.append({"label_fraction": fraction, "n_labels": float(np.mean(labels[fraction])),
                     "ssl": stats("ssl"), "scratch": stats("scratch"),
                     "difference": float(np.mean(pairs)) if pairs else None, "pairs": len(pairs)})
    return rows
