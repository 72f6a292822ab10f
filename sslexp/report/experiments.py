"""Which runs can be compared: one experiment = the same settings apart from the grid axes.

Runs of another data set, image size, architecture, budget rule, learning rate
... answer another question, so their accuracies must not be averaged together.
The axes a comparison is made along (label fraction, method, fold, the
unlabelled fraction of the pretext task) and the backbone's source do not
split an experiment. A setting a run does not state takes the default it ran
with, so a failed run without a record joins its experiment too.

Scratch runs never use the pretext settings, so a scratch run joins every
experiment whose other settings it shares: two ssl configurations (say, two
pretraining budgets, or an ssl-only sweep and a study's scratch runs) are each
compared with the same scratch runs.
"""

from __future__ import annotations

import dataclasses
import re

from sslexp.config import TrainConfig, flatten
from sslexp.report.collect import SweepData, SweepRun
from sslexp.tuning import TUNED_FIELDS

AXES = ("label_fraction", "method", "fold", "pretext_unlabeled_fraction", "pretrained")
PRETEXT_PREFIX = "pretext_"  # settings only ssl runs depend on
SCRATCH = "scratch"
ALL = "all"


@dataclasses.dataclass
class Experiment:
    name: str  # the settings that tell it from the other experiments: "dataset=digits"
    settings: dict
    runs: list[SweepRun]


class ExperimentChoiceError(ValueError):
    """Several experiments and no choice among them (or a choice that names none)."""


def settings_of(run: SweepRun, defaults: dict | None = None) -> dict:
    """The settings that must match; a run tuned from a winners file (``tuned``) is matched
    by that file, not by the per-method values it took from it."""
    defaults = flatten(TrainConfig()) if defaults is None else defaults
    merged = {**defaults, **run.config}
    ignored = AXES + (TUNED_FIELDS if merged.get("tuned") else ())
    return {name: merged[name] for name in sorted(merged) if name not in ignored}


def group_experiments(runs: list[SweepRun]) -> list[Experiment]:
    """The experiments among ``runs``, in order of first appearance."""
    defaults = flatten(TrainConfig())
    groups: dict[str, Experiment] = {}
    scratch_runs = []
    for run in runs:
        if run.method == SCRATCH:
            scratch_runs.append(run)
            continue
        settings = settings_of(run, defaults)
        groups.setdefault(_key(settings), Experiment("", settings, [])).runs.append(run)
    served = {}  # settings without the pretext ones -> the ssl experiments with them
    for experiment in groups.values():
        served.setdefault(_key(_without_pretext(experiment.settings)), []).append(experiment)
    for run in scratch_runs:
        settings = settings_of(run, defaults)
        joined = served.get(_key(_without_pretext(settings)))
        for experiment in joined or [
            groups.setdefault(_key(settings), Experiment("", settings, []))
        ]:
            experiment.runs.append(run)
    position = {id(run): index for index, run in enumerate(runs)}
    for experiment in groups.values():
        experiment.runs.sort(key=lambda run: position[id(run)])
    experiments = sorted(groups.values(), key=lambda experiment: position[id(experiment.runs[0])])
    differing = [
        name
        for name in sorted({n for e in experiments for n in e.settings})
        if len({_comparable(e.settings.get(name)) for e in experiments}) > 1
    ]
    for experiment in experiments:
        experiment.name = (
            ",".join(f"{name}={_shown(experiment.settings.get(name))}" for name in differing)
            or "all runs"
        )
    return experiments


def choose(experiments: list[Experiment], wanted: str | None) -> list[Experiment]:
    """The experiments to report: the only one, every one (``all``), or the one named."""
    if len(experiments) <= 1:
        return experiments
    if wanted == ALL:
        return experiments
    if wanted is not None:
        chosen = [experiment for experiment in experiments if experiment.name == wanted]
        if chosen:
            return chosen
    listing = "\n".join(
        f"  {experiment.name}  ({len(experiment.runs)} runs)" for experiment in experiments
    )
    problem = (
        f"no experiment is named {wanted!r}"
        if wanted is not None
        else f"these runs belong to {len(experiments)} experiments that cannot be "
        f"compared with each other"
    )
    raise ExperimentChoiceError(
        f"{problem}:\n{listing}\nPick one with --experiment NAME (as listed), or write one "
        f"report per experiment with --experiment {ALL}."
    )


def restrict(sweep: SweepData, experiment: Experiment) -> SweepData:
    """``sweep`` with only ``experiment``'s runs, and only the grid points it could hold."""
    names = {id(run) for run in experiment.runs}
    grid = None
    if sweep.grid is not None:
        grid = [
            point
            for point in sweep.grid
            if all(
                _comparable(experiment.settings.get(name, value)) == _comparable(value)
                for name, value in point.values.items()
                if name not in AXES
            )
        ]
    return dataclasses.replace(
        sweep,
        runs=[run for run in sweep.runs if id(run) in names],
        grid=grid,
        notes=list(sweep.notes),
    )


def directory_name(experiment: Experiment) -> str:
    """A file-system-safe folder name for one experiment's report."""
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", experiment.name.replace(",", "_"))[:120] or "all"


def _key(settings: dict) -> str:
    return repr(sorted((name, _comparable(value)) for name, value in settings.items()))


def _without_pretext(settings: dict) -> dict:
    return {name: value for name, value in settings.items() if not name.startswith(PRETEXT_PREFIX)}


def _comparable(value):
    """1 and 1.0 and "1" are the same setting."""
    if isinstance(value, bool) or value is None:
        return value
    try:
        return round(float(value), 10)
    except (TypeError, ValueError):
        return str(value)


def _shown(value) -> str:
    """A setting as an experiment's name shows it (a folder data set by its own name)."""
    from sslexp.data.folder import display_name

    return f"{value:g}" if isinstance(value, float) else display_name(str(value))
