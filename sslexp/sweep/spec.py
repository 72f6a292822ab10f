"""A sweep YAML and W&B's own sweep engine (the PyPI ``sweeps`` package).

The YAML is validated with the engine's schema and its grid enumerated by the
engine itself, so the list of runs matches what the W&B server would propose.
The engine is stateless: given the sweep config and every run so far it
proposes the next configuration. The ledger is that list of runs, so asking the
engine under the ledger's lock is all a worker needs to avoid duplicates. The
W&B server accepts a few keys the engine's schema does not know (``run_cap``);
they are taken out before validation and honoured here.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

# Ledger state -> the engine's RunState. Unfinished runs count as "seen" by the
# grid search whatever their state, so a retried run is never proposed twice.
_ENGINE_STATES = {
    "pending": "pending",
    "running": "running",
    "finished": "finished",
    "failed": "failed",
    "interrupted": "crashed",
}


def load_engine() -> ModuleType:
    """Import ``sweeps`` without the pydantic v2 notice it prints on import."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return importlib.import_module("sweeps")


def to_engine_config(values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{"lr": 0.1}`` -> ``{"lr": {"value": 0.1}}``, the shape runs carry in W&B."""
    return {name: {"value": value} for name, value in values.items()}


def from_engine_config(config: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """``{"lr": {"value": 0.1}}`` -> ``{"lr": 0.1}``."""
    return {name: item["value"] for name, item in config.items()}


def metric_from_results(results: Mapping[str, Any] | None, metric_name: str) -> Any:
    """Look up ``test/accuracy`` as ``results["test"]["accuracy"]`` (None if absent)."""
    node: Any = results
    for part in metric_name.split("/"):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def to_sweep_run(entry: Mapping[str, Any], summary_metrics: Mapping[str, Any] | None = None):
    """A ledger entry as the engine's ``SweepRun``."""
    engine = load_engine()
    return engine.SweepRun(
        config=to_engine_config(entry["config"]),
        state=_ENGINE_STATES.get(entry.get("state"), "crashed"),
        summaryMetrics=dict(summary_metrics or {}),
        sampledHistory=[],
        exitcode=entry.get("exit_code"),
    )


def propose_next_run(
    engine_config: Mapping[str, Any],
    runs: Iterable[Any],
) -> dict[str, Any] | None:
    """The engine's next configuration (flat ``{name: value}``), or None when done."""
    engine = load_engine()
    proposal = engine.next_run(dict(engine_config), list(runs), validate=False)
    if proposal is None:
        return None
    return from_engine_config(proposal.config)


def all_remaining_runs(
    engine_config: Mapping[str, Any], runs: Iterable[Any] = ()
) -> list[dict[str, Any]]:
    """Every configuration a grid sweep has yet to propose, in the engine's order."""
    if engine_config.get("method") != "grid":
        raise ValueError(
            "only a grid sweep has a finite list of runs, "
            f"not a {engine_config.get('method')} search."
        )
    engine = load_engine()
    grid_size_bound = 10**7
    proposals = engine.next_runs(dict(engine_config), list(runs), validate=False, n=grid_size_bound)
    return [from_engine_config(proposal.config) for proposal in proposals if proposal is not None]


# Keys the W&B server understands but the engine's JSON schema rejects.
SERVER_ONLY_KEYS = ("run_cap",)

DEFAULT_COMMAND = ["${env}", "${interpreter}", "${program}", "${args}"]


class SweepConfigError(ValueError):
    """A sweep YAML that cannot be used; ``violations`` lists each problem."""

    def __init__(self, path: Path, violations: list[str]):
        self.path = path
        self.violations = list(violations)
        listing = "\n".join(f"  - {violation}" for violation in self.violations)
        super().__init__(f"{path} is not a valid sweep configuration:\n{listing}")


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: what the engine sees plus what only the runner needs."""

    path: Path
    name: str
    raw: dict[str, Any]
    engine_config: dict[str, Any]
    run_cap: int | None = None
    command: list[str] = field(default_factory=lambda: list(DEFAULT_COMMAND))
    program: str | None = None

    @property
    def method(self) -> str:
        return self.engine_config["method"]

    @property
    def metric_name(self) -> str | None:
        return (self.engine_config.get("metric") or {}).get("name")


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and validate a sweep YAML; raise SweepConfigError listing every violation."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SweepConfigError(path, [f"cannot read the file: {error.strerror}"]) from error
    except UnicodeDecodeError as error:
        raise SweepConfigError(
            path, [f"not UTF-8 text (byte {error.start}: {error.reason}); save it as UTF-8"]
        ) from error
    except yaml.YAMLError as error:
        raise SweepConfigError(path, [f"not valid YAML: {error}"]) from error
    return parse_sweep(raw, path)


def parse_sweep(raw: Any, path: Path) -> SweepSpec:
    """Validate an already-loaded sweep mapping (see load_sweep)."""
    if not isinstance(raw, dict):
        raise SweepConfigError(
            path, ["the file must hold a YAML mapping (method, parameters, ...)"]
        )
    engine_input = {key: value for key, value in raw.items() if key not in SERVER_ONLY_KEYS}
    violations = _engine_violations(engine_input)
    run_cap = raw.get("run_cap")
    if run_cap is not None and (
        not isinstance(run_cap, int) or isinstance(run_cap, bool) or run_cap < 1
    ):
        violations.append(f"run_cap must be a positive integer, got {run_cap!r}")
    command = raw.get("command", DEFAULT_COMMAND)
    if not command:
        command = list(DEFAULT_COMMAND)
    if "${program}" in command and not raw.get("program"):
        violations.append("the command uses ${program} but the sweep has no 'program' key")
    if violations:
        raise SweepConfigError(path, violations)

    engine = load_engine()
    engine_config = dict(engine.SweepConfig(engine_input))
    return SweepSpec(
        path=path,
        name=str(raw.get("name") or path.stem),
        raw=raw,
        engine_config=engine_config,
        run_cap=run_cap,
        command=[str(part) for part in command],
        program=raw.get("program"),
    )


def _engine_violations(config: dict[str, Any]) -> list[str]:
    engine = load_engine()
    try:
        return list(engine.schema_violations_from_proposed_config(config))
    except ValueError as error:  # raised for a parameter that is not a mapping
        return [str(error)]


def grid_points(spec: SweepSpec) -> list[dict[str, Any]]:
    """Every configuration a grid sweep will run, in the engine's order.

    Asks the engine itself rather than re-deriving the grid, so the list
    matches what the workers will run.
    """
    if spec.method != "grid":
        raise ValueError(
            f"{spec.path}: only a grid sweep has a fixed list of runs (method is {spec.method!r})."
        )
    return all_remaining_runs(spec.engine_config)


def planned_grid(raw: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    """The grid of a sweep mapping (as copied into a sweep directory), in the engine's order.

    Only what the engine needs is checked: a YAML whose ``command`` could not
    run here still has a grid to report on.
    """
    engine_input = {key: value for key, value in raw.items() if key not in SERVER_ONLY_KEYS}
    violations = _engine_violations(engine_input)
    if violations:
        raise SweepConfigError(path, violations)
    engine_config = dict(load_engine().SweepConfig(engine_input))
    if engine_config.get("method") != "grid":
        raise ValueError(f"{path}: only a grid sweep has a fixed list of runs.")
    return all_remaining_runs(engine_config)


def planned_backbones(spec: SweepSpec) -> list:
    """The pretrain configs of the backbones the sweep's ssl runs will ask for with
    ``pretrained: auto``, each once, in grid order (``sslexp.config.PretrainConfig``)."""
    from sslexp.config import TrainConfig

    found = {}
    for point in grid_points(spec):
        config = TrainConfig.from_flat(point)
        if config.method == "ssl" and config.pretrained == "auto":
            pretrain = config.pretrain_config()
            found.setdefault(pretrain.key(), pretrain)
    return list(found.values())


def grid_parameters(sweep_config: Mapping[str, Any]) -> dict[str, list]:
    """The parameters a sweep config varies (those given as a list of ``values``), in YAML
    order, with their values."""
    parameters = sweep_config.get("parameters") or {}
    return {
        name: list(item["values"])
        for name, item in parameters.items()
        if isinstance(item, dict) and isinstance(item.get("values"), list)
    }


def planned_run_count(spec: SweepSpec) -> int | None:
    """How many runs the sweep will create: the grid size capped by run_cap."""
    if spec.method == "grid":
        size = len(grid_points(spec))
        return min(size, spec.run_cap) if spec.run_cap else size
    return spec.run_cap
