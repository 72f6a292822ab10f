"""What the runs of a sweep will cost, before they start: each run's labels and budget,
and, with a probe, the seconds of each run and of each pretraining still to do.

The sweep asks for this through ``run_costs``; it knows the grid, training
knows what a run of it spends.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from sslexp.config import PretrainConfig, TrainConfig
from sslexp.data import load_dataset
from sslexp.data.splits import label_split, pretext_split
from sslexp.errors import DataUnavailableError, InputError
from sslexp.training import probe
from sslexp.training.budget import Budget, budget_for


@dataclasses.dataclass(frozen=True)
class RunCost:
    """One run's labels and budget (None where its data set is not available here)."""

    n_train: int | None = None
    n_val: int | None = None
    budget: Budget | None = None
    seconds: float | None = None  # at most; None without a probe


@dataclasses.dataclass(frozen=True)
class Costs:
    runs: list[RunCost]  # in the order the runs were given
    pretrain_seconds: dict[str, float]  # backbone key -> estimate
    probe_seconds: float | None
    notes: list[str]


def run_costs(
    runs: Sequence[tuple[str, TrainConfig]],
    pretrainings: Sequence[PretrainConfig],
    cache_dir: Path,
    measure: bool = True,
    progress: Callable[[str], None] = lambda line: None,
) -> Costs:
    """The cost of each named run and of each pretraining still to do; with ``measure``,
    timed from a few steps of each distinct model here. ValueError naming the run and
    parameter when a run's labelled subset cannot be drawn. ``progress`` hears a line
    before each slow step (loading data, each probe), which can take minutes together."""
    started = time.monotonic()
    datasets: dict[tuple, object] = {}
    notes: list[str] = []
    costs = []
    for name, config in runs:
        data = _dataset(datasets, config.dataset, config.image_size, cache_dir, notes, progress)
        costs.append(RunCost() if data is None else _labels_and_budget(name, config, data))
    pretrain_seconds: dict[str, float] = {}
    probe_seconds = None
    if measure and any(cost.n_train is not None for cost in costs):
        configs = [config for _, config in runs]
        models = len(
            {
                _model_key(config)
                for config in configs
                if datasets[(config.dataset, config.image_size)] is not None
            }
        )
        progress(
            f"Probing: timing a few training steps of {models} model(s)"
            + (f" and {len(pretrainings)} pretraining(s)" if pretrainings else "")
            + " here (about 10-30 s each)..."
        )
        costs = _priced(costs, configs, datasets, models, progress)
        pretrain_seconds = _pretraining_seconds(pretrainings, datasets, progress)
        probe_seconds = time.monotonic() - started
    return Costs(costs, pretrain_seconds, probe_seconds, notes)


def _model_key(config: TrainConfig) -> tuple:
    """Runs with equal keys train the same model at the same speed: measured once."""
    return (config.dataset, config.image_size, config.backbone, config.batch_size)


def _dataset(
    datasets: dict,
    name: str,
    image_size: int,
    cache_dir: Path,
    notes: list[str],
    progress: Callable[[str], None],
):
    """The data set, loaded once; None (and a note) when it is not available here."""
    key = (name, image_size)
    if key not in datasets:
        progress(f"Loading {name} at {image_size} px...")
        try:
            datasets[key] = load_dataset(name, image_size, cache_dir)
        except DataUnavailableError as error:
            datasets[key] = None
            notes.append(
                f"{name} is not available here ({error}); its runs are listed "
                "without labels or time."
            )
    return datasets[key]


def _labels_and_budget(name: str, config: TrainConfig, data) -> RunCost:
    try:
        split = label_split(
            data.pool_labels,
            config.label_fraction,
            config.fold,
            config.folds,
            config.seed,
            config.val_fraction,
            with_validation=config.select == "best",
        )
    except InputError as error:
        raise ValueError(
            f"run {name}: parameter {error.option}={error.value!r}: {error.problem}"
        ) from error
    n_train = len(split.train_indices)
    return RunCost(n_train, len(split.val_indices), budget_for(config, n_train))


def _priced(
    costs: list[RunCost],
    configs: list[TrainConfig],
    datasets: dict,
    models: int,
    progress: Callable[[str], None],
) -> list[RunCost]:
    """Each run's seconds, from one measurement per distinct model."""
    startup = probe.import_seconds()
    measured: dict[tuple, probe.StepCosts] = {}
    priced = []
    for cost, config in zip(costs, configs, strict=True):
        data = datasets[(config.dataset, config.image_size)]
        if data is None:
            priced.append(cost)
            continue
        key = _model_key(config)
        if key not in measured:
            progress(
                f"  training steps of model {len(measured) + 1} of {models} ({config.dataset}, "
                f"{config.image_size} px, depth {config.backbone.depth}, width "
                f"{config.backbone.width}, batch {config.batch_size})..."
            )
            measured[key] = probe.measure_training(config, data)
        budget = cost.budget
        seconds = startup + measured[key].fit_s(
            budget.max_updates, budget.epochs, cost.n_val, len(data.test_labels)
        )
        priced.append(dataclasses.replace(cost, seconds=seconds))
    return priced


def _pretraining_seconds(
    pretrainings: Sequence[PretrainConfig], datasets: dict, progress: Callable[[str], None]
) -> dict[str, float]:
    seconds = {}
    for config in pretrainings:
        data = datasets.get((config.dataset, config.image_size))
        if data is None:
            continue
        pretext = config.pretext
        train_indices, val_indices = pretext_split(
            len(data.pool_labels), pretext.unlabeled_fraction, pretext.val_fraction, pretext.seed
        )
        steps = pretext.steps_per_epoch(math.ceil(len(train_indices) / pretext.batch_size))
        progress(f"  pretraining steps of backbone {config.key()}...")
        seconds[config.key()] = probe.measure_pretraining(config, data).fit_s(
            pretext.epochs * steps, pretext.epochs, 4 * len(val_indices)
        )  # all 4 rotations
    return seconds
