"""The PyPI ``sweeps`` engine: the same code the W&B server uses to pick runs.

The engine is stateless: given the sweep config and every run so far it
proposes the next configuration. The ledger is that list of runs, so asking the
engine under the ledger's lock is all a worker needs to avoid duplicates.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import Any

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


def all_remaining_runs(engine_config: Mapping[str, Any], runs: Iterable[Any] = ()) -> list[dict[str, Any]]:
    """Every configuration a grid sweep has yet to propose, in the engine's order."""
    if engine_config.get("method") != "grid":
        raise ValueError(f"only a grid sweep has a finite list of runs, not a {engine_config.get('method')} search.")
    engine = load_engine()
    grid_size_bound = 10**7
    proposals = engine.next_runs(dict(engine_config), list(runs), validate=False, n=grid_size_bound)
    return [from_engine_config(proposal.config) for proposal in proposals if proposal is not None]
