"""Reading a sweep directory: its YAML, its ledger and every run's record.

Nothing here re-derives what the sweep knows: the expected grid comes from the
sweep engine (``sslexp.sweep.spec``), a run's state from the rule the sweep
uses (``sslexp.sweep.ledger.run_state``), and files from the record's own file
list. Tolerates what real sweeps leave behind: no ledger (then
``runs/*/results.json`` is globbed), runs that failed before writing a record,
records still marked ``running`` or unreadable, and grid points that never ran.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from sslexp.config import PretrainConfig, TrainConfig, flatten, from_dict
from sslexp.data.folder import skipped_files_line
from sslexp.runs.record import RESULTS_FILE, Record, as_float, load_record
from sslexp.sweep.ledger import LEDGER_NAME, RUNS_DIR, SWEEP_COPY, Ledger, run_state
from sslexp.sweep.spec import SweepConfigError, grid_parameters, planned_grid

STATE_ORDER = ("finished", "failed", "interrupted", "running", "pending", "missing")


@dataclass
class SweepRun:
    """One downstream run as its ledger entry and record describe it."""

    run_id: str
    run_dir: Path | None
    state: str
    config: dict  # flat, spelled like the sweep parameters (label_fraction, pretext_epochs)
    record: Record | None = None
    error: str | None = None

    @property
    def label_fraction(self) -> float | None:
        return as_float(self.config.get("label_fraction"))

    @property
    def method(self) -> str | None:
        method = self.config.get("method")
        return None if method is None else str(method)

    @property
    def fold(self) -> int | None:
        fold = as_float(self.config.get("fold"))
        return None if fold is None else int(fold)

    @property
    def test_accuracy(self) -> float | None:
        return self.record.test_accuracy if self.record is not None else None

    @property
    def n_labels(self) -> float | None:
        return self.record.n_labels if self.record is not None else None

    @property
    def finished_at(self) -> str:
        return (self.record.finished_at if self.record is not None else None) or ""

    def file(self, role: str) -> Path | None:
        """A file the run's record lists (``model``, ``history``...), if it is there."""
        if self.record is None or self.run_dir is None:
            return None
        return self.record.path_of(self.run_dir, role)

    @property
    def is_usable(self) -> bool:
        """Finished, with a test accuracy, label fraction and method: it enters the statistics."""
        return (
            self.state == "finished"
            and self.test_accuracy is not None
            and self.label_fraction is not None
            and self.method is not None
        )


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
    runs: list[SweepRun]
    grid: list[GridPoint] | None
    has_ledger: bool
    notes: list[str] = field(default_factory=list)
    pretrains: list[PretrainRun] | None = None  # None: found through the ssl runs' records
    source: str | None = None  # where the runs were read, when not ``directory``

    def runs_in_state(self, state: str) -> list[SweepRun]:
        return [run for run in self.runs if run.state == state]

    @property
    def usable_runs(self) -> list[SweepRun]:
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
    notes: list[str] = []
    sweep_yaml, sweep_config = _read_sweep_yaml(directory / SWEEP_COPY, notes)
    ledger = _read_ledger(directory, notes)
    runs = _runs_from_ledger(Ledger(directory), ledger, notes) if ledger else {}
    listed = {run.run_dir.resolve() for run in runs.values() if run.run_dir is not None}
    for results_path in sorted(directory.glob(f"{RUNS_DIR}/*/{RESULTS_FILE}")):
        if results_path.parent.resolve() not in listed:
            run = _run_from_record(results_path.parent.name, results_path.parent, notes)
            runs[run.run_id] = run
    if not sweep_yaml and not ledger and not runs:
        raise FileNotFoundError(
            f"{directory} holds no {SWEEP_COPY}, no {LEDGER_NAME} and no "
            f"{RUNS_DIR}/*/{RESULTS_FILE}; give the directory that `sslexp sweep local` wrote"
        )
    if ledger is None:
        notes.append(f"No {LEDGER_NAME}: runs were found by globbing {RUNS_DIR}/*/{RESULTS_FILE}.")
    varying = grid_parameters(sweep_config)
    run_list = list(runs.values())
    grid = expected_grid(directory, sweep_config, varying, run_list, notes)
    skipped = skipped_files_line(run.record for run in run_list)
    if skipped:
        notes.append(skipped[0].upper() + skipped[1:])
    name = (ledger or {}).get("sweep") or sweep_config.get("name") or directory.name
    return SweepData(
        directory,
        str(name),
        sweep_yaml,
        sweep_config,
        varying,
        run_list,
        grid,
        ledger is not None,
        notes,
    )


class BaselineError(FileNotFoundError):
    """The baseline sweep has no scratch runs this sweep can be compared with."""


def add_baseline(sweep: SweepData, baseline: SweepData) -> SweepData:
    """``sweep`` with the scratch runs of ``baseline`` added: a sweep of ssl runs only
    (the unlabelled-volume sweep) is compared with another sweep's scratch runs,
    which do not depend on pretraining, instead of training them again. Only the label
    fractions ``sweep`` has are taken."""
    fractions = {
        round(run.label_fraction, 12) for run in sweep.runs if run.label_fraction is not None
    }
    scratch = [
        run
        for run in baseline.runs
        if run.method == "scratch"
        and run.label_fraction is not None
        and round(run.label_fraction, 12) in fractions
    ]
    if not scratch:
        raise BaselineError(
            f"{baseline.directory} holds no scratch runs at the label fractions of "
            f"{sweep.directory} ({', '.join(f'{f:g}' for f in sorted(fractions)) or 'none'}); "
            "give the sweep directory whose scratch runs serve as the baseline"
        )
    known = {run.run_id for run in sweep.runs}
    added = [run for run in scratch if run.run_id not in known]
    note = (
        f"Scratch runs from {baseline.directory} ({len(added)}, "
        f"{sum(run.is_usable for run in added)} finished) are the baseline."
    )
    return dataclasses.replace(sweep, runs=[*sweep.runs, *added], notes=[*sweep.notes, note])


def expected_grid(
    directory: Path,
    sweep_config: dict,
    grid_parameters: dict[str, list],
    runs: list[SweepRun],
    notes: list[str],
) -> list[GridPoint] | None:
    """Every point the engine plans for the sweep, with the best state any run reached."""
    if not sweep_config:
        return None
    if not grid_parameters:
        notes.append(
            f"{SWEEP_COPY} lists no `values` parameters, so missing grid points are unknown."
        )
        return None
    try:
        planned = planned_grid(sweep_config, directory / SWEEP_COPY)
    except (SweepConfigError, ValueError) as error:
        notes.append(
            f"The sweep engine cannot list the grid ({error}); missing grid points are unknown."
        )
        return None
    names = list(grid_parameters)
    by_point: dict[tuple, list[SweepRun]] = {}
    for run in runs:
        key = tuple(_match_key(run.config.get(name)) for name in names)
        by_point.setdefault(key, []).append(run)
    points = []
    for values in planned:
        point = {name: values.get(name) for name in names}
        matching = by_point.get(tuple(_match_key(value) for value in point.values()), [])
        states = {run.state for run in matching}
        state = next(
            (s for s in STATE_ORDER if s in states), "missing" if not matching else "unknown"
        )
        points.append(GridPoint(point, state, [run.run_id for run in matching]))
    return points


def _runs_from_ledger(ledger: Ledger, data: dict, notes: list[str]) -> dict[str, SweepRun]:
    runs = {}
    for run_id, entry in (data.get("runs") or {}).items():
        entry = entry or {}
        run_dir = ledger.run_dir(entry) if _has_run_dir(entry) else None
        loaded = load_record(run_dir, complete=True) if run_dir is not None else None
        record = loaded.record if loaded is not None else None
        if (
            loaded is not None
            and record is None
            and run_dir.exists()
            and "missing" not in (loaded.problem or "")
        ):
            notes.append(
                f"Run {entry.get('name') or run_id}: {loaded.problem}; it counts as not finished."
            )
        state = run_state(entry, record)
        _note_no_number(entry.get("name") or run_id, record, notes)
        error = None
        if state != "finished":
            error = (record.error_text() if record is not None else None) or _text(
                entry.get("error")
            )
            if error is None and entry.get("exit_code") not in (None, 0):
                error = f"exit code {entry['exit_code']}"
        config = {**(entry.get("config") or {}), **flat_config(record)}
        runs[str(run_id)] = SweepRun(
            str(entry.get("name") or run_id),
            run_dir if run_dir is not None and run_dir.is_dir() else None,
            state,
            config,
            record,
            error,
        )
    return runs


def _note_no_number(name: str, record: Record | None, notes: list[str]) -> None:
    """A finished run whose test accuracy is there but not a number is said to be so."""
    if record is None or not record.is_finished:
        return
    value = (record.test or {}).get("accuracy")
    if value is not None and record.test_accuracy is None:
        shown = "NaN" if isinstance(value, float) else repr(value)
        notes.append(
            f"Run {name}: its test accuracy is {shown}, not a number; it is left out "
            "of the comparison."
        )


def _run_from_record(run_id: str, run_dir: Path, notes: list[str]) -> SweepRun:
    loaded = load_record(run_dir, complete=True)
    if loaded.record is None:
        notes.append(f"Run {run_id}: {loaded.problem}; it counts as missing.")
    record = loaded.record
    state = run_state(None, record)
    _note_no_number(run_id, record, notes)
    error = None if state == "finished" or record is None else record.error_text()
    return SweepRun(run_id, run_dir, state, flat_config(record), record, error)


def flat_config(record: Record | None) -> dict:
    """A record's config spelled like sweep parameters (``pretext_epochs``)."""
    if record is None:
        return {}
    try:
        flat = flatten(from_dict(TrainConfig, record.config))
        # settings this version no longer has (an older record's `epochs`) stay visible, so
        # such runs are not mistaken for runs of today's defaults
        return {
            **{
                key: value
                for key, value in record.config.items()
                if key not in flat and not isinstance(value, dict)
            },
            **flat,
        }
    except (ValueError, TypeError):  # an older or foreign record: take what it says
        return {key: value for key, value in record.config.items() if not isinstance(value, dict)}


def _has_run_dir(entry: dict) -> bool:
    return bool(entry.get("run_dir") or entry.get("results_file"))


def _text(value) -> str | None:
    return None if not value else str(value)


def _read_sweep_yaml(path: Path, notes: list[str]) -> tuple[str | None, dict]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        notes.append(f"No {SWEEP_COPY}: the expected grid is unknown.")
        return None, {}
    except UnicodeDecodeError:
        notes.append(f"{SWEEP_COPY} is not UTF-8 text; the expected grid is unknown.")
        return None, {}
    try:
        config = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        notes.append(f"{SWEEP_COPY} is not valid YAML ({error}); the expected grid is unknown.")
        return text, {}
    return text, config if isinstance(config, dict) else {}


def _read_ledger(directory: Path, notes: list[str]) -> dict | None:
    path = directory / LEDGER_NAME
    try:
        loaded = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        notes.append(f"Could not read {path}: {error}")
        return None
    return loaded if isinstance(loaded, dict) else None


def _match_key(value):
    """Grid values and run configs compare equal across int/float/str spellings (0.05 == "0.05")."""
    if isinstance(value, bool) or value is None:
        return value
    number = as_float(value)
    if number is not None:
        return round(number, 10)
    return str(value)


@dataclass
class PretrainRun:
    """A pretrain directory some ssl runs started from, and its record."""

    backbone_path: Path
    directory: Path
    record: Record | None
    run_ids: list[str]

    @property
    def name(self) -> str:
        """The backbone's name in the cache, the same wherever the runs were read from."""
        if self.record is not None:
            try:
                return from_dict(PretrainConfig, self.record.config).directory_name()
            except (ValueError, TypeError):
                pass
        return self.directory.name

    @property
    def pretext_checkpoint(self) -> Path | None:
        return self.record.path_of(self.directory, "pretext") if self.record else None

    @property
    def history(self) -> list[dict]:
        return list(self.record.history) if self.record else []

    @property
    def best_val_accuracy(self) -> float | None:
        best = as_float(self.record.best_val_accuracy) if self.record else None
        if best is None:
            values = [as_float(epoch.get("val_accuracy")) for epoch in self.history]
            values = [value for value in values if value is not None]
            best = max(values) if values else None
        return best


def find_pretrains(sweep: SweepData) -> list[PretrainRun]:
    """The pretrain directories ssl runs name as their backbone's source, each once."""
    if sweep.pretrains is not None:
        return sweep.pretrains
    found: dict[Path, PretrainRun] = {}
    for run in sweep.runs:
        backbone = run.record.pretrained_backbone if run.record is not None else None
        if run.method != "ssl" or backbone is None:
            continue
        backbone = _locate(backbone, [sweep.directory, run.run_dir])
        key = backbone.resolve()
        if key not in found:
            loaded = load_record(backbone.parent)
            if loaded.record is None and backbone.parent.exists():
                sweep.notes.append(f"Pretraining {backbone.parent}: {loaded.problem}.")
            found[key] = PretrainRun(backbone, backbone.parent, loaded.record, [])
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
