"""A run directory: its file names, its results record, and how both are written and read.

Every ``sslexp pretrain`` and ``sslexp train`` run writes ``results.json``, the
typed ``Record`` below, with an atomic rename, so a reader never sees half a
file. The sweep, the report and the pictures read runs only through this
module. ``docs/results-format.md`` is generated from ``Record``
(``schema_markdown``), and a test keeps the two equal.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import json
import math
import os
import tempfile
import traceback
from pathlib import Path
from typing import Any, BinaryIO, Callable

import numpy as np

SCHEMA_VERSION = 2
STATES = ("running", "finished", "failed", "interrupted")

# The files of a run directory: defined here only.
RESULTS_FILE = "results.json"
HISTORY_FILE = "history.csv"
MODEL_FILE = "model.keras"
BEST_WEIGHTS_FILE = "best.weights.h5"
INITIAL_FILTERS_FILE = "initial_filters.npy"
BACKBONE_FILE = "backbone.keras"
PRETEXT_FILE = "pretext.keras"
LOG_FILE = "output.log"
PROGRESS_FILE = "progress.json"
BACKUP_DIR = "backup"
FIGURES_DIR = "figures"


def doc(text: str, kinds: tuple[str, ...] = ("train", "pretrain"), default=None,
        factory=None):
    """A record field with the description ``docs/results-format.md`` shows."""
    metadata = {"doc": text, "kinds": kinds}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _count(value) -> int | None:
    number = as_float(value)
    return None if number is None else int(number)


def _flag(value) -> bool | None:
    return value if isinstance(value, bool) else None


def _mapping(value) -> dict:
    return value if isinstance(value, dict) else {}


def _sequence(value) -> tuple:
    return tuple(value) if isinstance(value, (list, tuple)) else ()


@dataclasses.dataclass(frozen=True)
class SplitView:
    """A train run's ``split`` section, typed; what a record lacks is None (or empty)."""

    n_train: int | None
    n_val: int | None
    n_labels: int | None
    pool_size: int | None
    test_size: int | None
    labels_per_class: tuple
    val_per_class: tuple
    fingerprint: str | None
    dataset_fingerprint: str | None

    @classmethod
    def of(cls, section) -> "SplitView":
        section = _mapping(section)
        return cls(*(_count(section.get(name)) for name in
                     ("n_train", "n_val", "n_labels", "pool_size", "test_size")),
                   _sequence(section.get("labels_per_class")),
                   _sequence(section.get("val_per_class")),
                   section.get("fingerprint") or None, section.get("dataset_fingerprint") or None)

    @property
    def fewest_val_per_class(self) -> float | None:
        """The fewest validation images any class had (n_val / classes for older records)."""
        if self.val_per_class:
            return float(min(self.val_per_class))
        classes = len(self.labels_per_class)
        return self.n_val / classes if self.n_val is not None and classes else None


@dataclasses.dataclass(frozen=True)
class ModelView:
    """The ``model`` section, typed: parameters, fine-tuning and the pretrained backbone."""

    total_params: int | None
    trainable_params: int | None
    finetune: str | None
    pretrained: dict  # empty for scratch runs and pretrainings

    @classmethod
    def of(cls, section) -> "ModelView":
        section = _mapping(section)
        return cls(_count(section.get("total_params")), _count(section.get("trainable_params")),
                   section.get("finetune"), _mapping(section.get("pretrained")))

    @property
    def pretext(self) -> dict:
        """What the pretraining of an ssl run's backbone recorded (``key``, ``config``...)."""
        return _mapping(self.pretrained.get("pretext"))


@dataclasses.dataclass(frozen=True)
class TrainingView:
    """The ``training`` section, typed: how the budget was spent."""

    budget: str | None
    select: str | None
    updates: int | None
    max_updates: int | None
    epochs_run: int | None
    max_epochs: int | None
    cap_hit: bool | None
    still_improving: bool | None  # pretrain

    @classmethod
    def of(cls, section) -> "TrainingView":
        section = _mapping(section)
        return cls(section.get("budget"), section.get("select"),
                   *(_count(section.get(name)) for name in
                     ("updates", "max_updates", "epochs_run", "max_epochs")),
                   _flag(section.get("cap_hit")), _flag(section.get("still_improving")))


@dataclasses.dataclass(frozen=True)
class TestView:
    """The ``test`` section, typed."""

    __test__ = False  # not a test class, whatever its name

    accuracy: float | None
    loss: float | None
    n_test: int | None
    class_names: tuple
    per_class_accuracy: dict
    accuracy_without_recalibration: float | None

    @classmethod
    def of(cls, section) -> "TestView":
        section = _mapping(section)
        without = _mapping(section.get("without_recalibration"))
        return cls(as_float(section.get("accuracy")), as_float(section.get("loss")),
                   _count(section.get("n_test")), _sequence(section.get("class_names")),
                   _mapping(section.get("per_class_accuracy")),
                   as_float(without.get("accuracy")))


@dataclasses.dataclass
class Record:
    """One run's ``results.json``."""

    kind: str = doc("`train` (a downstream run) or `pretrain` (a pretext run)")
    state: str = doc("`running` (written at start), `finished`, `failed` or `interrupted`",
                     default="running")
    name: str | None = doc("the run name (also the W&B run name), e.g. `ssl-p0.05-fold0`")
    config: dict = doc("the run's full config as `sslexp.config` declares it: for train "
                       "`dataset`, `image_size`, `backbone` {`depth`, `width`, "
                       "`preprocessing`}, `method`, `label_fraction`, `fold`, `folds`, `seed`, "
                       "`pretrained`, `finetune`, the budget fields and `pretext` {the pretext "
                       "task's fields}; for pretrain `dataset`, `image_size`, `backbone`, "
                       "`pretext`", factory=dict)
    error: dict | None = doc("`null`, or `{type, message, traceback}` when failed or interrupted")
    started_at: str | None = doc("ISO 8601 time the run started (UTC)")
    finished_at: str | None = doc("ISO 8601 time the run ended (UTC)")
    wall_time_s: float | None = doc("seconds from start to end")
    timings: dict = doc("seconds each named step took, in the order they ran (monotonic "
                        "clock): train `data`, `backbone` (found, pretrained first or built), "
                        "`model`, `compile`, `fit`, `select`, `test`, `save`; pretrain `data`, "
                        "`model`, `compile`, `fit`, `select`, `save`", factory=dict)
    provenance: dict = doc("`versions` (python, sslexp, tensorflow, keras, numpy, ...), `git` "
                           "(`revision`, `dirty`), `cpu` (`model`, `instruction_set`: the widest "
                           "vector extension, e.g. AVX-512, which decides the oneDNN kernels; "
                           "`cores` the process could use), "
                           "`hostname`, `platform`, `argv`, "
                           "`cuda_visible_devices`", factory=dict)
    wandb: dict | None = doc("`mode`, `run_id`, `run_dir`, `url`, `project`, `group` of the W&B "
                             "mirror (`null` when W&B was disabled)")
    files: dict = doc("role -> path relative to the run directory of every file the run wrote "
                      "(`model`, `history`, `initial_filters`, `best_weights`, `backbone`, "
                      "`pretext`, `figures/...`)", factory=dict)
    history: list = doc("one dict per epoch (train: `eval_every` updates, then a validation): "
                        "`epoch` (1-based), `loss`, `accuracy`, `val_loss`, `val_accuracy`; "
                        "pretrain also `probe_accuracy` (k-NN on the backbone's features of a "
                        "labelled slice of the held-out pool images)",
                        factory=list)
    best_epoch: int | None = doc("the epoch the validation split selected (1-based)")
    skipped_files: list = doc("files of a `folder:` data set left out because they could not "
                              "be read as images (paths relative to the folder); empty for "
                              "other data sets", factory=list)
    split: dict | None = doc(
        "`fingerprint` (hash of the chosen train and validation indices), "
        "`dataset_fingerprint`, `pool_size`, `test_size`, `n_train`, `n_val` (0 with `select: "
        "last`), `n_labels` (train + validation: the labels the run used), `labels_per_class`, "
        "`val_per_class`", kinds=("train",))
    model: dict | None = doc(
        "`total_params`, `trainable_params`, `trainable_layers`, `finetune`, `backbone` "
        "(depth, width, preprocessing, input shape), `pretrained` (`path`, `reference`, the "
        "pretext run's `key`, `config`, `best_epoch`, `best_val_accuracy`, and `artifact`: "
        "the backbone's W&B artifact `reference`, whether the run `declared` its use, and a "
        "`note` when not; ssl only), `runtime`: the Keras `backend`, the `device` (cpu, gpu, "
        "tpu), the `dtype_policy` `--precision` resolved to, `deterministic`, and for "
        "pretraining the `learning_rate` after batch-size scaling")
    training: dict | None = doc(
        "how the budget was spent. train: `budget` (`converged` or `matched`), `select` (`best` "
        "or `last`), `eval_every` (= `steps_per_epoch`: updates between validations), "
        "`max_updates` (the cap), `patience` (updates; converged only), `epochs_run` "
        "(validations), `max_epochs`, `updates` (run), `best_update` (the update whose weights "
        "were kept: the last with `select: last`), `updates_after_best` and "
        "`share_after_best` (how much of the budget came after it), `stopped_by` (`patience` "
        "or `cap`), `cap_hit` (trained all `max_updates` with its best validation the last one: "
        "still improving; null without validation), `batchnorm` (`rule`, `layers`, `images`, "
        "`batches` of the BatchNorm statistics recomputed from the training images before the "
        "test). pretrain: `epochs_run`, `best_epoch`, `steps_per_epoch`, `updates` (optimizer "
        "updates run), `best_probe_accuracy` (the k-NN probe's best; null without a probe), "
        "`still_improving` (the probe's best epoch was the last; by rotation accuracy "
        "without a probe)")
    test: dict | None = doc(
        "evaluated once, at the end, with the selected weights and BatchNorm statistics "
        "recomputed from the training images: `accuracy`, `loss`, `n_test`, `class_names`, "
        "`per_class_accuracy` (name -> accuracy), `confusion_matrix` (rows: true class, columns: "
        "predicted), `without_recalibration` (`accuracy`, `loss` with the moving statistics "
        "Keras kept during training)", kinds=("train",))
    key: str | None = doc("the backbone cache key (hash of the pretrain config)",
                          kinds=("pretrain",))
    data: dict | None = doc("`dataset_fingerprint`, `pool_size`, `n_pretext_images`, "
                            "`n_val_images`, `unlabeled_fraction`", kinds=("pretrain",))
    best_val_accuracy: float | None = doc("rotation accuracy on the held-out slice at the best "
                                          "epoch (pretrain); validation accuracy at the selected "
                                          "epoch (train)")
    artifact: str | None = doc("the W&B artifact reference of the backbone, when logged",
                               kinds=("pretrain",))
    schema: int = doc("format version", default=SCHEMA_VERSION)
    extra: dict = dataclasses.field(default_factory=dict, repr=False)

    # What readers ask of a record: its sections typed, read without trust.
    @property
    def is_finished(self) -> bool:
        return self.state == "finished"

    @property
    def split_view(self) -> SplitView:
        return SplitView.of(self.split)

    @property
    def model_view(self) -> ModelView:
        return ModelView.of(self.model)

    @property
    def training_view(self) -> TrainingView:
        return TrainingView.of(self.training)

    @property
    def test_view(self) -> TestView:
        return TestView.of(self.test)

    @property
    def test_accuracy(self) -> float | None:
        return self.test_view.accuracy

    @property
    def n_labels(self) -> int | None:
        return self.split_view.n_labels

    @property
    def pretrained_backbone(self) -> Path | None:
        """The backbone file an ssl run started from."""
        pretrained = _mapping(self.model).get("pretrained")  # a path in older records
        path = pretrained.get("path") if isinstance(pretrained, dict) else pretrained
        return Path(path) if path else None

    def path_of(self, run_dir: Path, role: str) -> Path | None:
        """The file the run wrote for ``role`` (``model``, ``pretext``...), if it exists."""
        relative = self.files.get(role)
        if not relative:
            return None
        path = Path(run_dir) / relative
        return path if path.exists() else None

    def error_text(self) -> str | None:
        return error_text(self.error)

    def missing_sections(self) -> list[str]:
        """What a finished record must hold and this one lacks: its config (else a reader
        would take the defaults for what it ran with) and, for train, the test accuracy."""
        if not self.is_finished:
            return []
        missing = [] if self.config else ["config"]
        if self.kind == "train" and "accuracy" not in (self.test or {}):
            missing.append("test.accuracy")
        return missing

    def to_json(self) -> dict:
        data = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)
                if field.name != "extra"}
        return _to_json({**data, **self.extra})

    @classmethod
    def from_json(cls, data: dict) -> "Record":
        names = {field.name for field in dataclasses.fields(cls)} - {"extra"}
        known = {key: value for key, value in data.items() if key in names}
        record = cls(**known, extra={k: v for k, v in data.items() if k not in names})
        if isinstance(record.files, list):  # schema 1 listed names only
            record.files = {_role_of(name): name for name in record.files}
        if not isinstance(record.config, dict):
            record.config = {}
        return record


def _role_of(name: str) -> str:
    roles = {MODEL_FILE: "model", HISTORY_FILE: "history", BEST_WEIGHTS_FILE: "best_weights",
             INITIAL_FILTERS_FILE: "initial_filters",
             BACKBONE_FILE: "backbone", PRETEXT_FILE: "pretext"}
    return roles.get(name, Path(name).with_suffix("").as_posix())


def error_text(error) -> str | None:
    """``"Type: message"`` of a recorded error (a dict or a string)."""
    if not error:
        return None
    if isinstance(error, dict):
        kind, message = error.get("type"), error.get("message")
        return ": ".join(str(part) for part in (kind, message) if part) or json.dumps(error)
    return str(error)


def error_record(error: BaseException) -> dict:
    return {
        "type": type(error).__name__,
        "message": str(error),
        "traceback": "".join(traceback.format_exception(error)),
    }


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


# Writing: whole files or nothing, readable by the group as the umask allows.

def current_umask() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode a plain ``open`` gives a new file (0666 less the umask), for files created
    by other means (locks, temporary files)."""
    return 0o666 & ~current_umask()


def write_atomic(path: Path, content: bytes | Callable[[BinaryIO], object]) -> Path:
    """Write ``content`` (bytes, or a function writing to a binary stream) to a temporary
    file beside ``path``, then rename it into place.

    The file gets the permissions a plain ``open`` would give (0666 less the
    umask), not the 0600 of a temporary file, so colleagues can read shared runs.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            if callable(content):
                content(stream)
            else:
                stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, file_mode())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: Path, data: Any) -> Path:
    return write_atomic(path, (json.dumps(_to_json(data), indent=2) + "\n").encode())


def write_record(run_dir: Path, record: Record) -> Path:
    return write_json_atomic(Path(run_dir) / RESULTS_FILE, record.to_json())


# Reading: never trust a file, never crash on one.

@dataclasses.dataclass(frozen=True)
class ReadResult:
    record: Record | None
    problem: str | None = None  # why there is no record: missing, unreadable, not a record


def load_record(run_dir: Path, complete: bool = False) -> ReadResult:
    """The record in ``run_dir`` (or the file itself), or why there is none. With
    ``complete``, a finished record lacking a required section counts as unreadable."""
    path = Path(run_dir)
    if path.is_dir() or path.suffix != ".json":
        path = path / RESULTS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ReadResult(None, f"{path} is missing")
    except UnicodeDecodeError as error:
        return ReadResult(None, f"{path} is unreadable (not UTF-8 text: {error.reason})")
    except (OSError, ValueError) as error:
        return ReadResult(None, f"{path} is unreadable ({type(error).__name__}: {error})")
    if not isinstance(data, dict) or data.get("state") not in STATES:
        return ReadResult(None, f"{path} is not a results record")
    try:
        record = Record.from_json(data)
    except TypeError as error:
        return ReadResult(None, f"{path} is not a results record ({error})")
    missing = record.missing_sections() if complete else []
    if missing:
        return ReadResult(None, f"{path} is unreadable: a finished record without "
                                f"{' and '.join(missing)}")
    return ReadResult(record)


def read_record(run_dir: Path, complete: bool = False) -> Record | None:
    """The record, or None when it is missing or unreadable (which counts as missing)."""
    return load_record(run_dir, complete).record


MISSING_CELLS = ("", "NA", None)  # CSVLogger writes NA for a column an epoch did not log


def read_history(path: Path) -> list[dict]:
    """Keras' CSVLogger rows as dicts with a 1-based epoch (appended across resumes); cells
    an epoch did not log (validation columns of a run without validation) are left out."""
    with open(path, newline="") as stream:
        rows = [{k: float(v) for k, v in row.items() if v not in MISSING_CELLS}
                for row in csv.DictReader(stream)]
    by_epoch = {int(row["epoch"]) + 1: row for row in rows}  # a resumed epoch replaces its row
    return [{**row, "epoch": epoch} for epoch, row in sorted(by_epoch.items())]


def schema_markdown() -> str:
    """``docs/results-format.md``, generated from ``Record``."""
    lines = [
        "# Results files",
        "",
        "<!-- Generated from sslexp/runs/record.py (Record); regenerate with",
        "     python -c 'from sslexp.runs.record import schema_markdown as s; print(s(), end=\"\")'"
        " > docs/results-format.md -->",
        "",
        f"Every `sslexp pretrain` and `sslexp train` run writes one `{RESULTS_FILE}` in its run",
        "directory, replaced atomically (written to a temporary file in the same directory,",
        "then renamed), so a reader never sees half a file. W&B mirrors these files; it is",
        "never the only copy. A file that is missing or cannot be parsed counts as no record;",
        "where runs are compared (a resumed sweep, the report) so does a finished record",
        "without its `config` (or, for train, without `test.accuracy`).",
        "",
        f"Schema version {SCHEMA_VERSION}. Other files of a run directory: `{HISTORY_FILE}` "
        f"(one row per epoch), `{MODEL_FILE}` (train: the selected classifier), "
        f"`{BACKBONE_FILE}` and `{PRETEXT_FILE}` (pretrain), `{FIGURES_DIR}/` (PNG and SVG "
        f"pictures), `{BACKUP_DIR}/` (while running: what `--resume` continues from), "
        f"`{LOG_FILE}` (in a sweep: the run's output), `{PROGRESS_FILE}` (phase, epoch and "
        "step, rewritten as the run goes).",
        "",
        "| field | kinds | meaning |",
        "| --- | --- | --- |",
    ]
    for field in dataclasses.fields(Record):
        if field.name == "extra":
            continue
        kinds = ", ".join(field.metadata["kinds"])
        lines.append(f"| `{field.name}` | {kinds} | {field.metadata['doc']} |")
    return "\n".join(lines) + "\n"


def _to_json(value):
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _to_json(dataclasses.asdict(value))
    if isinstance(value, np.ndarray):
        return _to_json(value.tolist())
    if isinstance(value, np.generic):
        return _to_json(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def as_float(value) -> float | None:
    """A finite number from a record field, or None (missing, text, NaN, a bool)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
