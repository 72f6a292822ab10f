"""Reading a sweep directory: sweep.yaml, ledger.json and every run's results.json.

Tolerates what real sweeps leave behind: no ledger (then ``runs/*/results.json``
is globbed), runs that failed before writing results, results files still
marked ``running``, and grid points that never ran.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

RESULTS_FILE = "results.json"
LEDGER_FILE = "ledger.json"
SWEEP_FILE = "sweep.yaml"
STATE_ORDER = ("finished", "failed", "interrupted", "running", "pending", "missing")


@dataclass
class RunRecord:
    """One downstream run as the files describe it."""

    run_id: str
    run_dir: Path | None
    state: str
    config: dict
    results: dict | None = None
    error: str | None = None

    @property
    def label_fraction(self) -> float | None:
        return _as_float(self.config.get("label_fraction"))

    @property
    def method(self) -> str | None:
        method = self.config.get("method")
        return None if method is None else str(method)

    @property
    def fold(self) -> int | None:
        fold = _as_float(self.config.get("fold"))
        return None if fold is None else int(fold)

    @property
    def test_accuracy(self) -> float | None:
        return _as_float(((self.results or {}).get("test") or {}).get("accuracy"))

    @property
    def n_labels(self) -> float | None:
        return _as_float(((self.results or {}).get("split") or {}).get("n_labels"))

    @property
    def is_usable(self) -> bool:
        """Finished, with a test accuracy, label fraction and method: it enters the statistics."""
        return (self.state == "finished" and self.test_accuracy is not None
                and self.label_fraction is not None and self.method is not None)


@dataclass
class GridPoint:
    """One combination of the sweep's ``values`` parameters and what became of it."""

    values: dict
    state: str
    run_ids: list[str] = field(default_factory=list)


@dataclass
class SweepData:
    directory: Path
    name: str
    sweep_yaml: str | None
    sweep_config: dict
    grid_parameters: dict[str, list]
    runs: list[RunRecord]
    grid: list[GridPoint] | None
    has_ledger: bool
    notes: list[str] = field(default_factory=list)

    def runs_in_state(self, state: str) -> list[RunRecord]:
        return [run for run in self.runs if run.state == state]

    @property
    def usable_runs(self) -> list[RunRecord]:
        return [run for run in self.runs if run.is_usable]

    @property
    def missing_points(self) -> list[GridPoint]:
        return [point for point in self.grid or [] if point.state == "missing"]

    def state_counts(self) -> dict[str, int]:
        counts = {state: 0 for state in STATE_ORDER}
        for run in self.runs:
            counts[run.state] = counts.get(run.state, 0) + 1
        counts["missing"] = len(self.missing_points)
        return counts


def collect_sweep(directory: str | Path) -> SweepData:
    """Everything the report needs from ``directory``; ``FileNotFoundError`` says what is absent."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory} is not a directory; give the directory of a sweep")
    notes = []
    sweep_yaml, sweep_config = _read_sweep_yaml(directory / SWEEP_FILE, notes)
    ledger = _read_json(directory / LEDGER_FILE, notes)
    runs = _runs_from_ledger(directory, ledger) if ledger else {}
    for results_path in sorted(directory.glob(f"runs/*/{RESULTS_FILE}")):
        run_id = results_path.parent.name
        if run_id not in runs:
            runs[run_id] = _run_from_results(run_id, results_path.parent, notes)
    if not sweep_yaml and not ledger and not runs:
        raise FileNotFoundError(
            f"{directory} holds no {SWEEP_FILE}, no {LEDGER_FILE} and no runs/*/{RESULTS_FILE}; "
            f"give the directory that `sslexp sweep local` wrote"
        )
    if ledger is None:
        notes.append(f"No {LEDGER_FILE}: runs were found by globbing runs/*/{RESULTS_FILE}.")
    grid_parameters = grid_parameters_of(sweep_config)
    run_list = list(runs.values())
    grid = expected_grid(grid_parameters, run_list) if grid_parameters else None
    if sweep_config and grid is None:
        notes.append("sweep.yaml lists no `values` parameters, so missing grid points are unknown.")
    name = (ledger or {}).get("sweep") or sweep_config.get("name") or directory.name
    return SweepData(directory, str(name), sweep_yaml, sweep_config, grid_parameters, run_list,
                     grid, ledger is not None, notes)


def grid_parameters_of(sweep_config: dict) -> dict[str, list]:
    """The parameters the sweep varies over a list of ``values``, in YAML order."""
    parameters = sweep_config.get("parameters") or {}
    return {
        name: list(spec["values"])
        for name, spec in parameters.items()
        if isinstance(spec, dict) and isinstance(spec.get("values"), list)
    }


def expected_grid(grid_parameters: dict[str, list], runs: list[RunRecord]) -> list[GridPoint]:
    """Every combination of ``values`` with the best state any run reached for it."""
    names = list(grid_parameters)
    by_point: dict[tuple, list[RunRecord]] = {}
    for run in runs:
        key = tuple(_match_key(run.config.get(name)) for name in names)
        by_point.setdefault(key, []).append(run)
    points = []
    for combination in itertools.product(*grid_parameters.values()):
        matching = by_point.get(tuple(_match_key(value) for value in combination), [])
        states = {run.state for run in matching}
        state = next((s for s in STATE_ORDER if s in states),
                     "missing" if not matching else "unknown")
        points.append(GridPoint(dict(zip(names, combination)), state,
                                [run.run_id for run in matching]))
    return points


def _runs_from_ledger(directory: Path, ledger: dict) -> dict[str, RunRecord]:
    runs = {}
    for run_id, entry in (ledger.get("runs") or {}).items():
        entry = entry or {}
        results_path = _resolve(directory, entry.get("results_file")) or (
            directory / "runs" / str(run_id) / RESULTS_FILE)
        results = _read_json(results_path, [])
        run_dir = results_path.parent if results_path.parent.is_dir() else None
        config = {**(entry.get("config") or {}), **((results or {}).get("config") or {})}
        state = _combined_state((results or {}).get("state"), entry.get("state"))
        error = None
        if state != "finished":
            error = _error_text((results or {}).get("error")) or _error_text(entry.get("error"))
            if error is None and entry.get("exit_code") not in (None, 0):
                error = f"exit code {entry['exit_code']}"
        runs[str(run_id)] = RunRecord(str(run_id), run_dir, state, config, results, error)
    return runs


def _run_from_results(run_id: str, run_dir: Path, notes: list[str]) -> RunRecord:
    results = _read_json(run_dir / RESULTS_FILE, notes) or {}
    state = str(results.get("state") or "unknown")
    error = None if state == "finished" else _error_text(results.get("error"))
    return RunRecord(run_id, run_dir, state, results.get("config") or {}, results or None, error)


def _combined_state(results_state: str | None, ledger_state: str | None) -> str:
    """A results file that says finished wins; otherwise the ledger knows how the process ended."""
    if results_state == "finished":
        return "finished"
    return str(ledger_state or results_state or "unknown")


def _error_text(error) -> str | None:
    if not error:
        return None
    if isinstance(error, dict):
        kind, message = error.get("type"), error.get("message")
        return ": ".join(str(part) for part in (kind, message) if part) or json.dumps(error)
    return str(error)


def _read_sweep_yaml(path: Path, notes: list[str]) -> tuple[str | None, dict]:
    try:
        text = path.read_text()
    except OSError:
        notes.append(f"No {SWEEP_FILE}: the expected grid is unknown.")
        return None, {}
    try:
        config = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        notes.append(f"{SWEEP_FILE} is not valid YAML ({error}); the expected grid is unknown.")
        return text, {}
    return text, config if isinstance(config, dict) else {}


def _read_json(path: Path, notes: list[str]) -> dict | None:
    try:
        loaded = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        notes.append(f"Could not read {path}: {error}")
        return None
    return loaded if isinstance(loaded, dict) else None


def _resolve(directory: Path, path: str | None) -> Path | None:
    if not path:
        return None
    path = Path(path)
    if path.is_absolute():
        return path
    inside = directory / path
    return path if path.exists() and not inside.exists() else inside


def _as_float(value) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _match_key(value):
    """Grid values and run configs compare equal across int/float/str spellings (0.05 == "0.05")."""
    if isinstance(value, bool) or value is None:
        return value
    number = _as_float(value)
    if number is not None:
        return round(number, 10)
    return str(value)


@dataclass
class PretrainRecord:
    """A pretrain directory some ssl runs started from."""

    backbone_path: Path
    directory: Path
    results: dict | None
    run_ids: list[str]

    @property
    def pretext_checkpoint(self) -> Path | None:
        path = self.directory / "pretext.keras"
        return path if path.is_file() else None

    @property
    def history(self) -> list[dict]:
        return list((self.results or {}).get("history") or [])

    @property
    def best_val_accuracy(self) -> float | None:
        results = self.results or {}
        best = _as_float(results.get("best_val_accuracy"))
        if best is None:
            values = [_as_float(epoch.get("val_accuracy")) for epoch in self.history]
            values = [value for value in values if value is not None]
            best = max(values) if values else None
        return best


def find_pretrains(sweep: SweepData) -> list[PretrainRecord]:
    """The pretrain directories named by ssl runs' ``model.pretrained.path``, each once."""
    found: dict[Path, PretrainRecord] = {}
    for run in sweep.runs:
        pretrained = ((run.results or {}).get("model") or {}).get("pretrained")
        path = pretrained.get("path") if isinstance(pretrained, dict) else pretrained
        if run.method != "ssl" or not path:
            continue
        backbone = _locate(Path(path), [sweep.directory, run.run_dir])
        key = backbone.resolve()
        if key not in found:
            results = _read_json(backbone.parent / RESULTS_FILE, sweep.notes)
            found[key] = PretrainRecord(backbone, backbone.parent, results, [])
        found[key].run_ids.append(run.run_id)
    return list(found.values())


def _locate(path: Path, bases: list[Path | None]) -> Path:
    """``path`` as written, else relative to one of ``bases`` where it exists."""
    if path.is_absolute() or path.exists():
        return path
    for base in bases:
        if base is not None and (base / path).exists():
            return base / path
    return path
