"""Winners of the tuning sweeps: per method, the settings with the best validation accuracy.

Each arm's candidates are scored by the mean, over the tuned label fractions, of
the validation accuracy at the epoch each run kept; test accuracy is never
looked at. Both arms must have been tuned on the same grid, label fractions and
tuning fold, so they had the same tuning budget; anything else is refused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sslexp.config import METHODS
from sslexp.report.collect import SweepRun, collect_sweep
from sslexp.runs.record import as_float
from sslexp.tuning import TUNED_FIELDS, tuning_fold


def _candidate(run: SweepRun) -> tuple:
    return tuple(run.config.get(name) for name in TUNED_FIELDS)


def choose_winners(runs: list[SweepRun], sources: list[str]) -> dict:
    """The winners file's content from the runs of the tuning sweeps (see module doc)."""
    finished = [run for run in runs if run.state == "finished" and run.method is not None]
    unfinished = [run.run_id for run in runs if run.state != "finished"]
    if unfinished:
        raise ValueError(
            f"{len(unfinished)} tuning run(s) have not finished "
            f"({', '.join(unfinished[:5])}): finish the tuning sweeps first, or "
            "every arm would not have had the same budget."
        )
    if not finished:
        raise ValueError("no finished tuning runs: run the tuning sweeps first.")
    for run in finished:
        folds = int(as_float(run.config.get("folds")) or 0)
        if run.fold != tuning_fold(folds):
            raise ValueError(
                f"run {run.run_id} is on fold {run.fold} of {folds}, not the "
                f"tuning fold {tuning_fold(folds)}: tuning must not see the "
                "labelled images of an evaluation fold."
            )
    scores: dict[str, dict[tuple, list[float]]] = {}
    fractions: dict[str, set] = {}
    for run in finished:
        accuracy = as_float(run.record.best_val_accuracy if run.record else None)
        if accuracy is None:
            raise ValueError(
                f"run {run.run_id} has no validation accuracy: tune with "
                "`select: best`, which keeps a validation split."
            )
        scores.setdefault(run.method, {}).setdefault(_candidate(run), []).append(accuracy)
        fractions.setdefault(run.method, set()).add(run.label_fraction)
    untuned = [method for method in METHODS if method not in scores]
    if untuned:
        raise ValueError(
            f"no finished tuning runs of {', '.join(untuned)}: tune every arm "
            "(sweeps/tuning_ssl.yaml and sweeps/tuning_scratch.yaml) and pass "
            "both sweep directories."
        )
    grids = {method: sorted(map(repr, candidates)) for method, candidates in scores.items()}
    if (
        len({tuple(grid) for grid in grids.values()}) > 1
        or len({tuple(sorted(values)) for values in fractions.values()}) > 1
    ):
        raise ValueError(
            "the arms were tuned on different grids or label fractions "
            f"({', '.join(f'{m}: {len(g)} candidates' for m, g in grids.items())}"
            "): give every method the same grid, so the same tuning budget."
        )
    first = finished[0].config
    label_fractions = sorted(next(iter(fractions.values())))
    methods, candidates = {}, {}
    for method, by_candidate in sorted(scores.items()):
        ranked = sorted(
            by_candidate.items(), key=lambda item: (-float(np.mean(item[1])), repr(item[0]))
        )
        candidates[method] = [
            {
                **dict(zip(TUNED_FIELDS, candidate)),
                "val_accuracy": round(float(np.mean(values)), 6),
                "runs": len(values),
            }
            for candidate, values in ranked
        ]
        methods[method] = candidates[method][0]
    grid = {
        name: sorted(
            {candidate[index] for method in scores for candidate in scores[method]},
            key=lambda value: (str(type(value)), value),
        )
        for index, name in enumerate(TUNED_FIELDS)
    }
    folds = int(as_float(first.get("folds")))
    return {
        "chosen_by": (
            f"highest mean validation accuracy (at the epoch each run kept) over "
            f"label fractions {', '.join(f'{f:g}' for f in label_fractions)} on "
            f"tuning fold {tuning_fold(folds)} of {folds} (seed {first.get('seed')}); "
            f"the same grid of {len(grids[next(iter(grids))])} candidates for every "
            "method; test accuracy not used"
        ),
        "grid": grid,
        "label_fractions": label_fractions,
        "fold": tuning_fold(folds),
        "folds": folds,
        "runs_per_method": {method: sum(map(len, by.values())) for method, by in scores.items()},
        "sweeps": list(sources),
        "methods": methods,
        "candidates": candidates,
    }


def winners_from_sweeps(directories: list[str | Path]) -> dict:
    """``choose_winners`` over the runs of the given tuning sweep directories."""
    runs = []
    for directory in directories:
        runs += collect_sweep(directory).runs
    return choose_winners(runs, [str(directory) for directory in directories])
