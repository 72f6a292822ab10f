"""Per-run results anyone can check fold by fold, and the settings each arm trained with.

Runs are deterministic on one machine and reproducible in distribution across
machines: oneDNN picks kernels by instruction set, which moves single folds by up
to about 2 points between CPUs. So the table names the CPU and its instruction
set beside every result, and a replication is compared with it fold by fold.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from sslexp.report.collect import SweepRun
from sslexp.runs.record import as_float
from sslexp.tuning import TUNED_FIELDS

PER_RUN_COLUMNS = (
    "method",
    "label fraction",
    "fold",
    "seed",
    "test acc %",
    "without BN recal. %",
    "updates",
    "best update",
    "after best",
    "hardware",
)
PER_RUN_FIELDS = (
    "run_id",
    "method",
    "label_fraction",
    "fold",
    "seed",
    "n_labels",
    "test_accuracy",
    "test_accuracy_without_recalibration",
    "updates",
    "best_update",
    "updates_after_best",
    "lr",
    "augment",
    "weight_decay",
    "device",
    "cpu",
    "instruction_set",
    "git_revision",
)
ARM_COLUMNS = ("method", "runs", "lr", "augment", "weight decay", "how chosen")


def per_run_values(run: SweepRun) -> dict:
    """One finished run's raw numbers (accuracies as fractions)."""
    record = run.record
    training = record.training or {}
    provenance = record.provenance or {}
    cpu = provenance.get("cpu") or {}
    runtime = (record.model or {}).get("runtime") or {}
    without = ((record.test or {}).get("without_recalibration") or {}).get("accuracy")
    updates, best = as_float(training.get("updates")), as_float(training.get("best_update"))
    return {
        "run_id": run.run_id,
        "method": run.method,
        "label_fraction": run.label_fraction,
        "fold": run.fold,
        "seed": run.config.get("seed"),
        "n_labels": run.n_labels,
        "test_accuracy": run.test_accuracy,
        "test_accuracy_without_recalibration": as_float(without),
        "updates": updates,
        "best_update": best,
        "updates_after_best": (
            updates - best if updates is not None and best is not None else None
        ),
        **{name: run.config.get(name) for name in TUNED_FIELDS},
        "device": runtime.get("device"),
        "cpu": cpu.get("model"),
        "instruction_set": cpu.get("instruction_set"),
        "git_revision": (provenance.get("git") or {}).get("revision"),
    }


def per_run_rows(runs: list[SweepRun]) -> list[dict]:
    """Display strings for every finished run, in grid order."""
    rows = []
    for run in sorted((run for run in runs if run.is_usable), key=_grid_order):
        values = per_run_values(run)
        hardware = " ".join(
            str(part)
            for part in (values["device"], values["cpu"], values["instruction_set"])
            if part
        )
        rows.append(
            {
                "method": values["method"],
                "label fraction": f"{values['label_fraction']:g}",
                "fold": "" if values["fold"] is None else str(values["fold"]),
                "seed": "" if values["seed"] is None else str(values["seed"]),
                "test acc %": _percent(values["test_accuracy"]),
                "without BN recal. %": _percent(values["test_accuracy_without_recalibration"]),
                "updates": _count(values["updates"]),
                "best update": _count(values["best_update"]),
                "after best": _count(values["updates_after_best"]),
                "hardware": hardware or "n/a",
            }
        )
    return rows


def write_per_run_csv(runs: list[SweepRun], path: Path) -> Path:
    """``per_run.csv``: the unrounded values of every finished run, for a fold-by-fold check."""
    with Path(path).open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=PER_RUN_FIELDS)
        writer.writeheader()
        for run in sorted((run for run in runs if run.is_usable), key=_grid_order):
            writer.writerow(per_run_values(run))
    return Path(path)


def arm_rows(runs: list[SweepRun]) -> list[dict]:
    """Per method: the lr, augmentation and weight decay its runs used, and where they came
    from (a winners file and its rule, or the sweep's own values)."""
    rows = []
    for method in ("ssl", "scratch"):
        chosen = [run for run in runs if run.is_usable and run.method == method]
        if not chosen:
            continue
        values = {
            name: sorted({str(run.config.get(name)) for run in chosen}) for name in TUNED_FIELDS
        }
        tuned = sorted({str(run.config["tuned"]) for run in chosen if run.config.get("tuned")})
        rows.append(
            {
                "method": method,
                "runs": str(len(chosen)),
                "lr": ", ".join(values["lr"]),
                "augment": ", ".join(values["augment"]),
                "weight decay": ", ".join(values["weight_decay"]),
                "how chosen": "; ".join(_how_chosen(path) for path in tuned)
                if tuned
                else "as the sweep set them (not tuned)",
            }
        )
    return rows


def _how_chosen(path: str) -> str:
    from sslexp.errors import InputError
    from sslexp.tuning import read_winners

    try:
        winners = read_winners(path)
    except InputError:
        return f"tuned: {path} (not readable here)"
    return f"tuned: {path}, {winners.get('chosen_by') or 'rule not stated'}"


def _grid_order(run: SweepRun):
    return (
        run.label_fraction if run.label_fraction is not None else math.inf,
        run.method or "",
        run.fold if run.fold is not None else -1,
        run.run_id,
    )


def _count(value) -> str:
    number = as_float(value)
    return "n/a" if number is None else f"{number:,.0f}"


def _percent(value) -> str:
    number = as_float(value)
    return "n/a" if number is None else f"{100 * number:.2f}"
