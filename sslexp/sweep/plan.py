"""What a sweep of ``sslexp train`` runs will do, before it does it.

``check_grid`` checks every grid point as ``sslexp train`` would check its
options, without loading data, so a typo or an out-of-range value stops the
sweep before its first run (``sweep local`` and ``sweep plan``).
``plan_sweep`` also loads the data sets, checks each point's labelled subset,
finds which backbones are cached, and estimates the time from a short probe.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

from sslexp.config import PretrainConfig, TrainConfig, build, flat_fields
from sslexp.errors import InputError
from sslexp.sweep.ledger import readable_name
from sslexp.sweep.spec import SweepSpec, grid_parameter_names, grid_points


def runs_sslexp_train(spec: SweepSpec) -> bool:
    """Whether the sweep's command is ``sslexp train`` (its parameters are train options)."""
    parts = [str(part) for part in spec.command]
    return "train" in parts and any(part == "sslexp" or part.endswith("/sslexp")
                                    for part in parts)


@dataclasses.dataclass(frozen=True)
class PlannedRun:
    name: str
    values: dict[str, Any]
    config: TrainConfig


def check_grid(spec: SweepSpec, options: set[str]) -> list[PlannedRun]:
    """Every grid point as a checked TrainConfig; ValueError naming the parameter, its
    value and the run, for the first point ``sslexp train`` would refuse.

    ``options``: the names of ``sslexp train``'s options (``label_fraction``).
    """
    unknown = [name for name in spec.raw.get("parameters", {})
               if _option_name(name) not in options]
    if unknown:
        raise ValueError(f"parameter(s) {', '.join(unknown)} are not options of `sslexp "
                         "train` (see `sslexp train --help`; spelled like the options, "
                         "e.g. label_fraction, pretext_epochs)")
    fields = {name for _, _, _, name in flat_fields(TrainConfig)}
    flat_name = {dotted: name for _, _, dotted, name in flat_fields(TrainConfig)}
    varying = grid_parameter_names(spec)
    planned, checked = [], {}
    for point in grid_points(spec):
        values = {_option_name(name): value for name, value in point.items()}
        name = readable_name(values, [_option_name(name) for name in varying])
        try:
            config = build(TrainConfig, {k: v for k, v in values.items() if k in fields})
            if config not in checked:
                checked[config] = _check_inputs(config)
        except InputError as error:
            parameter = flat_name.get(error.option, error.option)
            raise ValueError(f"run {name}: parameter {parameter}={error.value!r}: "
                             f"{error.problem}") from error
        planned.append(PlannedRun(name, values, config))
    return planned


def _option_name(name: str) -> str:
    return str(name).replace("-", "_")


def _check_inputs(config: TrainConfig) -> bool:
    """The checks that need no data: the data set exists, a pretrained file exists."""
    from sslexp.data.registry import check_dataset
    from sslexp.training.tracking import is_artifact_reference

    check_dataset(config.dataset)
    pretrained = config.pretrained
    if (config.method == "ssl" and pretrained != "auto" and not is_artifact_reference(pretrained)
            and not Path(pretrained).is_file()):
        raise InputError("pretrained", pretrained, "no such file; give a backbone.keras that "
                                                   "`sslexp pretrain` wrote, or auto.")
    return True


def backbone_cache_of(spec: SweepSpec, default: Path) -> Path:
    """Where the runs will look for backbones: the sweep's ``backbone_cache`` parameter, else
    ``default`` (what ``sslexp train`` resolves without it, relative to where the sweep runs)."""
    given = (spec.raw.get("parameters", {}).get("backbone_cache") or {}).get("value")
    return Path(given) if given else Path(default)


@dataclasses.dataclass(frozen=True)
class PlannedBackbone:
    config: PretrainConfig
    directory: Path
    cached: bool


def planned_backbones(spec: SweepSpec, default_cache: Path) -> list[PlannedBackbone]:
    """The backbones the ssl runs with ``pretrained: auto`` ask for, each once, cached or not."""
    from sslexp.sweep.spec import planned_backbones as pretrain_configs
    from sslexp.training.backbones import backbone_dir, is_finished

    cache = backbone_cache_of(spec, default_cache)
    return [PlannedBackbone(config, backbone_dir(cache, config),
                            is_finished(backbone_dir(cache, config)))
            for config in pretrain_configs(spec)]


def backbones_note(backbones: list[PlannedBackbone], sweep_file: Path) -> str | None:
    """One line for the start of a sweep about backbones still to pretrain."""
    missing = [backbone for backbone in backbones if not backbone.cached]
    if not missing:
        return None
    names = ", ".join(backbone.directory.name for backbone in missing)
    return (f"{len(missing)} backbone(s) not cached yet ({names}): the first ssl run needing "
            f"one pretrains it first, the others wait. `sslexp sweep pretrain {sweep_file}` "
            "does it ahead.")


@dataclasses.dataclass(frozen=True)
class RunCost:
    run: PlannedRun
    n_train: int | None = None
    n_val: int | None = None
    budget: Any = None  # sslexp.training.budget.Budget
    seconds: float | None = None


@dataclasses.dataclass(frozen=True)
class SweepPlan:
    spec: SweepSpec
    runs: list[RunCost]
    backbones: list[PlannedBackbone]
    pretrain_seconds: dict[str, float]  # backbone key -> estimate, for those not cached
    probe_seconds: float | None
    notes: list[str]


def plan_sweep(spec: SweepSpec, options: set[str], cache_dir: Path, default_backbone_cache: Path,
               probe: bool = True) -> SweepPlan:
    """The grid with each run's labels and budget, the backbones, and, with ``probe``, the
    time each run and each pretraining takes at most, from steps measured here. Imports
    Keras (the budgets' module does)
    (``options`` and the backbone cache as for ``check_grid``, ``planned_backbones``)."""
    import time

    from sslexp.data import load_dataset
    from sslexp.data.splits import label_split
    from sslexp.errors import DataUnavailableError
    from sslexp.training.budget import budget_for

    started = time.monotonic()
    runs = check_grid(spec, options)
    backbones = planned_backbones(spec, default_backbone_cache)
    notes: list[str] = []
    datasets: dict[tuple, Any] = {}
    costs: list[RunCost] = []
    for run in runs:
        config = run.config
        key = (config.dataset, config.image_size)
        if key not in datasets:
            try:
                datasets[key] = load_dataset(config.dataset, config.image_size, cache_dir)
            except DataUnavailableError as error:
                datasets[key] = None
                notes.append(f"{config.dataset} is not available here ({error}); its runs "
                             "are listed without labels or time.")
        data = datasets[key]
        if data is None:
            costs.append(RunCost(run))
            continue
        try:
            split = label_split(data.pool_labels, config.label_fraction, config.fold,
                                config.folds, config.seed, config.val_fraction,
                                with_validation=config.select == "best")
        except InputError as error:
            raise ValueError(f"run {run.name}: parameter {error.option}={error.value!r}: "
                             f"{error.problem}") from error
        n_train, n_val = len(split.train_indices), len(split.val_indices)
        costs.append(RunCost(run, n_train, n_val, budget_for(config, n_train)))
    pretrain_seconds: dict[str, float] = {}
    probe_seconds = None
    if probe and any(cost.n_train is not None for cost in costs):
        costs, pretrain_seconds = _probe(costs, backbones, datasets)
        probe_seconds = time.monotonic() - started
    return SweepPlan(spec, costs, backbones, pretrain_seconds, probe_seconds, notes)


def _probe(costs: list[RunCost], backbones: list[PlannedBackbone],
           datasets: dict) -> tuple[list[RunCost], dict[str, float]]:
    """Measure each distinct model once, then price every run and pretraining with it."""
    from sslexp.data.splits import pretext_split
    from sslexp.training import probe

    startup = probe.import_seconds()
    measured: dict[tuple, Any] = {}
    priced = []
    for cost in costs:
        config = cost.run.config
        data = datasets[(config.dataset, config.image_size)]
        if data is None:
            priced.append(cost)
            continue
        key = (config.dataset, config.image_size, config.backbone, config.batch_size)
        if key not in measured:
            measured[key] = probe.measure_training(config, data)
        budget = cost.budget
        seconds = startup + measured[key].fit_s(budget.max_updates, budget.epochs, cost.n_val,
                                                len(data.test_labels))
        priced.append(dataclasses.replace(cost, seconds=seconds))
    pretraining = {}
    for backbone in backbones:
        data = datasets.get((backbone.config.dataset, backbone.config.image_size))
        if backbone.cached or data is None:
            continue
        pretext = backbone.config.pretext
        train_indices, val_indices = pretext_split(len(data.pool_labels),
                                                   pretext.unlabeled_fraction,
                                                   pretext.val_fraction, pretext.seed)
        steps = pretext.steps_per_epoch(math.ceil(len(train_indices) / pretext.batch_size))
        measured_here = probe.measure_pretraining(backbone.config, data)
        pretraining[backbone.config.key()] = measured_here.fit_s(
            pretext.epochs * steps, pretext.epochs, 4 * len(val_indices))  # all 4 rotations
    return priced, pretraining


def format_plan(plan: SweepPlan, workers: int, sweep_file: Path) -> str:
    """The plan as text: the grid, the backbones, the time."""
    from sslexp.sweep.monitor import format_duration

    spec = plan.spec
    varying = [_option_name(name) for name in grid_parameter_names(spec)]
    lines = [f"Sweep {spec.name!r} ({sweep_file}): {len(plan.runs)} runs over "
             f"{' x '.join(varying) or 'one point'}", ""]
    header = ["run", *varying, "train", "val", "updates", "val every", "at most"]
    rows = []
    for cost in plan.runs:
        budget = cost.budget
        rows.append([cost.run.name, *[_shown(cost.run.values.get(name)) for name in varying],
                     _shown(cost.n_train), _shown(cost.n_val),
                     ("" if budget is None else
                      f"{'<=' if budget.rule == 'converged' else ''}{budget.max_updates}"),
                     "" if budget is None or not cost.n_val else str(budget.eval_every),
                     format_duration(cost.seconds) if cost.seconds is not None else ""])
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * width for width in widths], *rows]:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    lines.append("")
    if plan.backbones:
        lines.append(f"Backbones ({len(plan.backbones)}):")
        for backbone in plan.backbones:
            if backbone.cached:
                state = "cached"
            else:
                seconds = plan.pretrain_seconds.get(backbone.config.key())
                state = (f"to pretrain ({backbone.config.pretext.epochs} epochs"
                         + (f", at most {format_duration(seconds)})" if seconds else ")"))
            lines.append(f"  {backbone.directory}  {state}")
        missing = [b for b in plan.backbones if not b.cached]
        if missing:
            lines.append(f"  The first ssl run needing one pretrains it; `sslexp sweep "
                         f"pretrain {sweep_file}` does it ahead.")
        lines.append("")
    lines += _time_lines(plan, workers)
    lines += plan.notes
    return "\n".join(lines).rstrip()


def _time_lines(plan: SweepPlan, workers: int) -> list[str]:
    from sslexp.sweep.monitor import format_duration

    priced = [cost.seconds for cost in plan.runs if cost.seconds is not None]
    if not priced:
        return ["Time: not estimated (it needs the probe and the data set here)."]
    pretraining = sum(plan.pretrain_seconds.values())
    total = pretraining + sum(priced) / max(1, workers)
    unpriced = len(plan.runs) - len(priced)
    return [
        f"Time: at most {format_duration(total)} with {workers} worker(s): runs "
        f"{format_duration(sum(priced))} in all"
        + (f", pretraining {format_duration(pretraining)}" if pretraining else "")
        + (f"; {unpriced} run(s) not priced" if unpriced else "") + ".",
        "  Every update counted: a converged budget may stop sooner. From a "
        f"{format_duration(plan.probe_seconds or 0)} probe of a few steps here; timings on "
        "a shared machine vary.",
    ]


def _shown(value) -> str:
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)
