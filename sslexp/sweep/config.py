"""Load a W&B sweep YAML, validate it with the engine's own schema, list its grid.

The W&B server accepts a few keys the open-source engine's schema does not know
(``run_cap``); they are taken out before validation and honoured here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sslexp.sweep.engine import all_remaining_runs, load_engine

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
        raw = yaml.safe_load(path.read_text())
    except OSError as error:
        raise SweepConfigError(path, [f"cannot read the file: {error.strerror}"]) from error
    except yaml.YAMLError as error:
        raise SweepConfigError(path, [f"not valid YAML: {error}"]) from error
    return parse_sweep(raw, path)


def parse_sweep(raw: Any, path: Path) -> SweepSpec:
    """Validate an already-loaded sweep mapping (see load_sweep)."""
    if not isinstance(raw, dict):
        raise SweepConfigError(path, ["the file must hold a YAML mapping (method, parameters, ...)"])
    engine_input = {key: value for key, value in raw.items() if key not in SERVER_ONLY_KEYS}
    violations = _engine_violations(engine_input)
    run_cap = raw.get("run_cap")
    if run_cap is not None and (not isinstance(run_cap, int) or isinstance(run_cap, bool) or run_cap < 1):
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
        raise ValueError(f"{spec.path}: only a grid sweep has a fixed list of runs (method is {spec.method!r}).")
    return all_remaining_runs(spec.engine_config)


def grid_parameter_names(spec: SweepSpec) -> list[str]:
    """Parameters the sweep varies (those given as a list of ``values``)."""
    return [name for name, item in spec.raw.get("parameters", {}).items() if isinstance(item, dict) and "values" in item]


def planned_run_count(spec: SweepSpec) -> int | None:
    """How many runs the sweep will create: the grid size capped by run_cap."""
    if spec.method == "grid":
        size = len(grid_points(spec))
        return min(size, spec.run_cap) if spec.run_cap else size
    return spec.run_cap
