"""The run protocol: what a run promises to whoever watches it, defined once.

Training writes it; the sweep, the report and the command line read it. None of
them imports another to learn it: the W&B job types and keys a report selects
runs by, the W&B summary of a run, the environment variables a sweep sets for
the runs it starts, where a backbone is cached, and the progress file a sweep
polls.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path

from sslexp.runs.record import BACKBONE_FILE, PROGRESS_FILE, Record, read_record, write_json_atomic

# W&B job types: the report and the W&B Report select runs by them.
PRETRAIN_JOB = "pretrain"
TRAIN_JOB = "train"
COMPARISON_JOB = "comparison"
BACKBONE_KEY = "backbone_key"  # W&B config key: the cache key of the backbone a pretraining makes
TEST_ACCURACY = "test/accuracy"  # a train run's W&B summary metric, and a sweep's metric name
ARTIFACT_PREFIX = "wandb-artifact://"

# What `wandb agent` sets for each run of a sweep; a second wandb.init in that
# environment would take over the sweep's run instead of starting its own.
SWEEP_ENV = ("WANDB_RUN_ID", "WANDB_SWEEP_ID", "WANDB_SWEEP_PARAM_PATH")

# Variables of options shared by several commands; a sweep sets them for each run it starts.
OUTPUT_DIR_ENV = "SSLEXP_OUTPUT_DIR"
RUN_NAME_ENV = "SSLEXP_RUN_NAME"
RESUME_ENV = "SSLEXP_RESUME"
GROUP_ENV = "SSLEXP_GROUP"
ENTITY_ENV = "SSLEXP_ENTITY"
PROJECT_ENV = "SSLEXP_PROJECT"
WANDB_MODE_ENV = "SSLEXP_WANDB_MODE"
# Set by whoever runs many runs in one process: how many compiled models to keep for reuse.
KEEP_COMPILED_ENV = "SSLEXP_KEEP_COMPILED_MODELS"
DETERMINISTIC_ENV = "SSLEXP_DETERMINISTIC"
# How long and how often a run waits for a backbone another machine claimed (online).
# An agent writes this into a run directory before passing a stop from W&B on as SIGTERM,
# so the run records why it was interrupted.
STOPPED_FROM_WANDB_FILE = "stopped-from-wandb"
BACKBONE_WAIT_ENV = "SSLEXP_BACKBONE_WAIT_S"
BACKBONE_POLL_ENV = "SSLEXP_BACKBONE_POLL_S"


def backbone_artifact_name(key: str) -> str:
    """The W&B model artifact of the backbone with cache key ``key``."""
    return f"backbone-{key}"


def is_artifact_reference(value: str) -> bool:
    """Whether a ``--pretrained`` value names a W&B artifact rather than a file."""
    return value.startswith(ARTIFACT_PREFIX) or (
        ":" in value and not Path(value).exists() and value.count("/") >= 1
        and not value.endswith(".keras"))


def train_summary(record: Record) -> dict:
    """The W&B summary of a finished train run: its record's headline figures."""
    return {TEST_ACCURACY: record.test["accuracy"], "test/loss": record.test["loss"],
            "test/accuracy_without_recalibration":
                record.test["without_recalibration"]["accuracy"],
            "best_epoch": record.best_epoch, "updates": record.training["updates"],
            "cap_hit": record.training["cap_hit"], "n_labels": record.split["n_labels"],
            "trainable_params": record.model["trainable_params"]}


def pretrain_summary(record: Record) -> dict:
    """The W&B summary of a finished pretraining."""
    return {"best_val_rotation_accuracy": record.best_val_accuracy,
            "best_epoch": record.best_epoch}


def backbone_dir(cache_root: Path, config) -> Path:
    """Where the backbone of ``config`` (a ``PretrainConfig``) is cached under ``cache_root``."""
    return Path(cache_root) / config.directory_name()


def is_backbone_finished(directory: Path) -> bool:
    """Whether a cached backbone's pretraining finished and left its backbone file."""
    record = read_record(directory)
    return record is not None and record.is_finished and (directory / BACKBONE_FILE).is_file()


# The progress file: the phase (``pretrain`` while a train run pretrains its
# backbone first, then ``train``), epoch and step, and when each phase started and ended.
PHASES = ("pretrain", "train")


def progress_path(run_dir: Path) -> Path:
    return Path(run_dir) / PROGRESS_FILE


def read_progress(run_dir: Path) -> dict | None:
    """The run's progress, or None when it has written none (or it cannot be read)."""
    return _read_progress_file(progress_path(run_dir))


def _read_progress_file(path: Path) -> dict | None:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, Mapping) and data.get("phase") in PHASES else None


def write_progress(path: Path, phase: str, epoch: int, epochs: int, step: int | None = None,
                   steps: int | None = None, detail: str | None = None,
                   ended: bool = False) -> dict:
    """Rewrite the progress file at ``path``, keeping the start and end times of its phases."""
    previous = _read_progress_file(path) or {}
    phases = dict(previous.get("phases") or {})
    now = time.time()
    timing = dict(phases.get(phase) or {"started_at": now})
    if ended:
        timing["ended_at"] = now
    phases[phase] = timing
    data = {"phase": phase, "epoch": epoch, "epochs": epochs, "step": step, "steps": steps,
            "detail": detail, "updated_at": now, "phases": phases}
    write_json_atomic(path, data)
    return data


def note_waiting(path: Path | None, backbone_dir: Path, epochs: int) -> None:
    """Say that the run waits for a backbone another run is pretraining."""
    if path is not None:
        write_progress(path, "pretrain", 0, epochs,
                       detail=f"waiting for {Path(backbone_dir).name}, pretrained by another run")
