"""What a sweep of ``sslexp train`` runs will do, before it does it.

``check_grid`` checks every grid point as ``sslexp train`` would check its
options, without loading data, so a typo or an out-of-range value stops the
sweep before its first run (``sweep local`` and ``sweep plan``).
``plan_sweep`` also finds which backbones are cached and asks training what each
run costs (its labelled subset, its budget, and the time from a short probe).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sslexp.config import PretrainConfig, TrainConfig, flat_fields
from sslexp.errors import InputError
from sslexp.runs.protocol import backbone_dir, is_artifact_reference, is_backbone_finished
from sslexp.sweep.ledger import readable_name
from sslexp.sweep.spec import SweepSpec, grid_parameters, grid_points
from sslexp.sweep.spec import planned_backbones as pretrain_configs  # their configs alone


def runs_sslexp_train(spec: SweepSpec) -> bool:
    """Whether the sweep's command is ``sslexp train`` (its parameters are train options)."""
    parts = [str(part) for part in spec.command]
    return "train" in parts and any(part == "sslexp" or part.endswith("/sslexp") for part in parts)


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
    unknown = [name for name in spec.raw.get("parameters", {}) if _option_name(name) not in options]
    if unknown:
        raise ValueError(
            f"parameter(s) {', '.join(unknown)} are not options of `sslexp "
            "train` (see `sslexp train --help`; spelled like the options, "
            "e.g. label_fraction, pretext_epochs)"
        )
    flat_name = {item.dotted: item.name for item in flat_fields(TrainConfig)}
    varying = grid_parameters(spec.raw)
    planned, checked = [], {}
    for point in grid_points(spec):
        values = {_option_name(name): value for name, value in point.items()}
        name = readable_name(values, [_option_name(name) for name in varying])
        try:
            config = TrainConfig.from_flat(values)
            if config not in checked:
                checked[config] = _check_inputs(config)
        except InputError as error:
            parameter = flat_name.get(error.option, error.option)
            raise ValueError(
                f"run {name}: parameter {parameter}={error.value!r}: {error.problem}"
            ) from error
        planned.append(PlannedRun(name, values, config))
    return planned


def _option_name(name: str) -> str:
    return str(name).replace("-", "_")


def _check_inputs(config: TrainConfig) -> bool:
    """The checks that need no data: the data set exists, a pretrained file exists."""
    from sslexp.data.registry import check_dataset

    check_dataset(config.dataset)
    pretrained = config.pretrained
    if (
        config.method == "ssl"
        and pretrained != "auto"
        and not is_artifact_reference(pretrained)
        and not Path(pretrained).is_file()
    ):
        raise InputError(
            "pretrained",
            pretrained,
            "no such file; give a backbone.keras that `sslexp pretrain` wrote, or auto.",
        )
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
    cache = backbone_cache_of(spec, default_cache)
    return [
        PlannedBackbone(
            config, backbone_dir(cache, config), is_backbone_finished(backbone_dir(cache, config))
        )
        for config in pretrain_configs(spec)
    ]


def backbones_note(backbones: list[PlannedBackbone], sweep_file: Path) -> str | None:
    """One line for the start of a sweep about backbones still to pretrain."""
    missing = [backbone for backbone in backbones if not backbone.cached]
    if not missing:
        return None
    names = ", ".join(backbone.directory.name for backbone in missing)
    return (
        f"{len(missing)} backbone(s) not cached yet ({names}): the first ssl run needing "
        f"one pretrains it first, the others wait. `sslexp sweep pretrain {sweep_file}` "
        "does it ahead."
    )


@dataclasses.dataclass(frozen=True)
class SweepPlan:
    spec: SweepSpec
    runs: list[PlannedRun]
    backbones: list[PlannedBackbone]
    costs: Any  # sslexp.training.costs.Costs: one cost per run, in the same order


def workers_in_comments(yaml_text: str) -> int | None:
    """The ``--workers N`` of the ``sweep local`` command a sweep YAML's comments suggest
    (the header says what the sweep was sized for), if any."""
    for line in yaml_text.splitlines():
        found = re.search(r"#.*\bsweep local\b.*--workers[ =](\d+)", line)
        if found:
            return int(found.group(1))
    return None


def plan_sweep(
    spec: SweepSpec, options: set[str], default_backbone_cache: Path, costs_of: Callable
) -> SweepPlan:
    """The grid with each run's labels and budget, the backbones, and the time each run and
    each pretraining takes at most (``options`` and the backbone cache as for
    ``check_grid``, ``planned_backbones``).

    ``costs_of(named_configs, pretrain_configs)`` prices the runs and the pretrainings
    still to do (``sslexp.training.costs.run_costs``): the sweep knows the grid, training
    what a run of it spends.
    """
    runs = check_grid(spec, options)
    backbones = planned_backbones(spec, default_backbone_cache)
    costs = costs_of(
        [(run.name, run.config) for run in runs],
        [backbone.config for backbone in backbones if not backbone.cached],
    )
    return SweepPlan(spec, runs, backbones, costs)


def format_plan(plan: SweepPlan, workers: int, sweep_file: Path) -> str:
    """The plan as text: the grid, the backbones, the time."""
    from sslexp.sweep.monitor import format_duration

    spec = plan.spec
    varying = [_option_name(name) for name in grid_parameters(spec.raw)]
    lines = [
        f"Sweep {spec.name!r} ({sweep_file}): {len(plan.runs)} runs over "
        f"{' x '.join(varying) or 'one point'}",
        "",
    ]
    header = ["run", *varying, "train", "val", "updates", "val every", "at most"]
    rows = []
    for run, cost in zip(plan.runs, plan.costs.runs, strict=True):
        budget = cost.budget
        rows.append(
            [
                run.name,
                *[_shown(run.values.get(name)) for name in varying],
                _shown(cost.n_train),
                _shown(cost.n_val),
                (
                    ""
                    if budget is None
                    else f"{'<=' if budget.rule == 'converged' else ''}{budget.max_updates}"
                ),
                "" if budget is None or not cost.n_val else str(budget.eval_every),
                format_duration(cost.seconds) if cost.seconds is not None else "",
            ]
        )
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
                seconds = plan.costs.pretrain_seconds.get(backbone.config.key())
                state = f"to pretrain ({backbone.config.pretext.epochs} epochs" + (
                    f", at most {format_duration(seconds)})" if seconds else ")"
                )
            lines.append(f"  {backbone.directory}  {state}")
        missing = [b for b in plan.backbones if not b.cached]
        if missing:
            lines.append(
                f"  The first ssl run needing one pretrains it; `sslexp sweep "
                f"pretrain {sweep_file}` does it ahead."
            )
        lines.append("")
    lines += _time_lines(plan, workers)
    lines += plan.costs.notes
    return "\n".join(lines).rstrip()


def _time_lines(plan: SweepPlan, workers: int) -> list[str]:
    from sslexp.sweep.monitor import format_duration

    priced = [cost.seconds for cost in plan.costs.runs if cost.seconds is not None]
    if not priced:
        return ["Time: not estimated (it needs the probe and the data set here)."]
    pretraining = sum(plan.costs.pretrain_seconds.values())
    total = pretraining + sum(priced) / max(1, workers)
    unpriced = len(plan.runs) - len(priced)
    return [
        f"Time: at most {format_duration(total)} with {workers} worker(s): runs "
        f"{format_duration(sum(priced))} in all"
        + (f", pretraining {format_duration(pretraining)}" if pretraining else "")
        + (f"; {unpriced} run(s) not priced" if unpriced else "")
        + ".",
        "  Every update counted: a converged budget may stop sooner. From a "
        f"{format_duration(plan.costs.probe_seconds or 0)} probe of a few steps here; timings on "
        "a shared machine vary.",
    ]


def _shown(value) -> str:
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)
