"""How each run spent its budget, and the facts the verdict's warnings rest on:
runs stopped by their cap while still improving, tiny validation sets, runs
without validation, pretraining that was still improving."""

from __future__ import annotations

import math

from sslexp.report.collect import PretrainRun, SweepRun
from sslexp.report.format import count, percent
from sslexp.report.verdict import MIN_VAL_PER_CLASS, RunFacts
from sslexp.runs.record import TrainingView

BUDGET_COLUMNS = ("run", "method", "label fraction", "fold", "budget", "updates", "cap",
                  "best / max epoch", "train images", "val images", "cap hit", "test acc %",
                  "without BN recal. %")


def training(run: SweepRun) -> TrainingView:
    return TrainingView.of(run.record.training if run.record is not None else None)


def cap_hit(run: SweepRun) -> bool | None:
    """Still improving when the cap stopped it (None: the record does not say)."""
    return training(run).cap_hit


def val_per_class(run: SweepRun) -> float | None:
    """The fewest validation images any class had (n_val / classes for older records)."""
    return run.record.split_view.fewest_val_per_class if run.record is not None else None


def budget_rows(runs: list[SweepRun]) -> list[dict]:
    """One row of display strings per finished run, in grid order."""
    rows = []
    for run in sorted(runs, key=_grid_order):
        if not run.is_usable:
            continue
        spent = training(run)
        split = run.record.split_view
        epochs_run = spent.epochs_run if spent.epochs_run is not None else len(
            run.record.history)
        hit = cap_hit(run)
        rows.append({
            "run": run.run_id, "method": run.method,
            "label fraction": f"{run.label_fraction:g}",
            "fold": "" if run.fold is None else str(run.fold),
            "budget": str(spent.budget or "n/a"),
            "updates": count(spent.updates),
            "cap": count(spent.max_updates),
            "best / max epoch": f"{count(run.record.best_epoch)} / "
                                f"{count(spent.max_epochs or epochs_run)}",
            "train images": count(split.n_train),
            "val images": count(split.n_val),
            "cap hit": {True: "YES", False: "no", None: "n/a"}[hit],
            "test acc %": percent(run.test_accuracy),
            "without BN recal. %": percent(run.record.test_view.accuracy_without_recalibration),
        })
    return rows


def run_facts(runs: list[SweepRun], pretrains: list[PretrainRun],
              min_val_per_class: float = MIN_VAL_PER_CLASS) -> RunFacts:
    usable = [run for run in runs if run.is_usable]
    noisy: dict[float, float] = {}
    for run in usable:
        count = val_per_class(run)
        if count is not None and training(run).select in ("best", None) \
                and count < min_val_per_class:
            fraction = round(run.label_fraction, 12)
            noisy[fraction] = min(noisy.get(fraction, math.inf), count)
    still = []
    for pretrain in pretrains:
        record = pretrain.record
        if record is None or not record.history:
            continue
        flag = record.training_view.still_improving
        if flag is None:
            flag = record.best_epoch == len(record.history)
        if flag:
            still.append(pretrain.name)
    return RunFacts(
        cap_hit=[run.run_id for run in sorted(usable, key=_grid_order) if cap_hit(run)],
        noisy_validation=noisy,
        without_validation=sum(1 for run in usable if training(run).select == "last"),
        pretrain_still_improving=still,
    )


def _grid_order(run: SweepRun):
    return (run.label_fraction if run.label_fraction is not None else math.inf,
            run.method or "", run.fold if run.fold is not None else -1, run.run_id)
