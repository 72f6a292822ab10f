"""How each run spent its budget, and the facts the verdict's warnings rest on:
runs stopped by their cap while still improving, tiny validation sets, runs
without validation, pretraining that was still improving."""

from __future__ import annotations

import math

from sslexp.report.collect import PretrainRun, SweepRun
from sslexp.report.format import count, percent
from sslexp.report.verdict import MIN_VAL_PER_CLASS, RunFacts
from sslexp.runs.record import as_float

BUDGET_COLUMNS = ("run", "method", "label fraction", "fold", "budget", "updates", "cap",
                  "best / max epoch", "train images", "val images", "cap hit", "test acc %",
                  "without BN recal. %")


def training(run: SweepRun) -> dict:
    return (run.record.training if run.record is not None else None) or {}


def cap_hit(run: SweepRun) -> bool | None:
    """Still improving when the cap stopped it; older records: best epoch = last epoch of all
    the epochs they were allowed (unknown without that)."""
    value = training(run).get("cap_hit")
    return value if isinstance(value, bool) else None


def val_per_class(run: SweepRun) -> float | None:
    """The fewest validation images any class had (n_val / classes for older records)."""
    split = (run.record.split if run.record is not None else None) or {}
    counts = split.get("val_per_class")
    if counts:
        return float(min(counts))
    n_val, classes = as_float(split.get("n_val")), len(split.get("labels_per_class") or [])
    return n_val / classes if n_val is not None and classes else None


def budget_rows(runs: list[SweepRun]) -> list[dict]:
    """One row of display strings per finished run, in grid order."""
    rows = []
    for run in sorted(runs, key=_grid_order):
        if not run.is_usable:
            continue
        spent = training(run)
        split = run.record.split or {}
        without = ((run.record.test or {}).get("without_recalibration") or {}).get("accuracy")
        epochs_run = spent.get("epochs_run", len(run.record.history))
        hit = cap_hit(run)
        rows.append({
            "run": run.run_id, "method": run.method,
            "label fraction": f"{run.label_fraction:g}",
            "fold": "" if run.fold is None else str(run.fold),
            "budget": str(spent.get("budget") or "n/a"),
            "updates": count(spent.get("updates")),
            "cap": count(spent.get("max_updates")),
            "best / max epoch": f"{count(run.record.best_epoch)} / "
                                f"{count(spent.get('max_epochs', epochs_run))}",
            "train images": count(split.get("n_train")),
            "val images": count(split.get("n_val")),
            "cap hit": {True: "YES", False: "no", None: "n/a"}[hit],
            "test acc %": percent(run.test_accuracy),
            "without BN recal. %": percent(without),
        })
    return rows


def run_facts(runs: list[SweepRun], pretrains: list[PretrainRun],
              min_val_per_class: float = MIN_VAL_PER_CLASS) -> RunFacts:
    usable = [run for run in runs if run.is_usable]
    noisy: dict[float, float] = {}
    for run in usable:
        count = val_per_class(run)
        if count is not None and training(run).get("select", "best") == "best" \
                and count < min_val_per_class:
            fraction = round(run.label_fraction, 12)
            noisy[fraction] = min(noisy.get(fraction, math.inf), count)
    still = []
    for pretrain in pretrains:
        record = pretrain.record
        if record is None or not record.history:
            continue
        flag = (record.training or {}).get("still_improving")
        if flag is None:
            flag = record.best_epoch == len(record.history)
        if flag:
            still.append(pretrain.name)
    return RunFacts(
        cap_hit=[run.run_id for run in sorted(usable, key=_grid_order) if cap_hit(run)],
        noisy_validation=noisy,
        without_validation=sum(1 for run in usable if training(run).get("select") == "last"),
        pretrain_still_improving=still,
    )


def _grid_order(run: SweepRun):
    return (run.label_fraction if run.label_fraction is not None else math.inf,
            run.method or "", run.fold if run.fold is not None else -1, run.run_id)
