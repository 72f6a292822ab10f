"""One lifecycle for every run, pretrain and train alike.

1. ``check_run_dir``: before anything is written, a directory holding a
   finished run is refused (or, with ``--resume``, reported as done); a
   directory holding an unfinished run is started over or resumed.
2. ``recorded``: the record is written as ``running``, then ends ``finished``,
   ``failed`` (with the error) or ``interrupted`` (Ctrl-C, SIGTERM, SIGHUP, or a
   stop from W&B, whose error type is ``StoppedFromWandb``), whatever happens
   inside. SIGKILL cannot be caught: its record stays ``running``, which the
   sweep reads as interrupted.

Every input is checked by the caller before step 1, so bad input never
touches an earlier run's files. ``run_location`` names a run and its
directory where the options leave them open (the same rule for `sslexp train`
and for agents that must find a run's directory).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from sslexp.errors import InputError
from sslexp.runs.protocol import STOPPED_FROM_WANDB_FILE
from sslexp.runs.record import (BACKUP_DIR, Record, error_record, now, read_record,
                                write_record)

if TYPE_CHECKING:
    from sslexp.config import TrainConfig

INTERRUPTING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class RunInterrupted(KeyboardInterrupt):
    """A signal asked the run to stop; it is recorded as interrupted."""


class AlreadyFinished(Exception):
    """``--resume`` on a run that has nothing left to do."""

    def __init__(self, record: Record, run_dir: Path):
        self.record = record
        self.run_dir = run_dir
        super().__init__(f"{run_dir} holds a finished run; nothing to resume")


def check_run_dir(run_dir: Path, resume: bool, option: str = "--output-dir") -> Record | None:
    """Check, writing nothing, that a run may start in ``run_dir``; return the record there.

    A finished run is never overwritten: without ``resume`` this is an input
    error, with it ``AlreadyFinished``.
    """
    run_dir = Path(run_dir)
    existing = read_record(run_dir)
    if existing is not None and existing.is_finished:
        if resume:
            raise AlreadyFinished(existing, run_dir)
        raise InputError(option, str(run_dir),
                         f"holds a finished run{_named(existing)}. Its files are kept: choose "
                         "another directory, or delete this one to run again.")
    return existing


@contextlib.contextmanager
def recorded(run_dir: Path, record: Record, resume: bool):
    """Write ``record`` as running, yield it to fill in, and write how the run ended.

    Unless resuming, an unfinished earlier run's backup is cleared first, so a
    new run never continues an old one by accident.
    """
    run_dir = Path(run_dir)
    if not resume and (run_dir / BACKUP_DIR).exists():
        shutil.rmtree(run_dir / BACKUP_DIR)
    started = time.time()
    record.state, record.error, record.started_at = "running", None, now()
    write_record(run_dir, record)
    try:
        with signals_interrupt():
            yield record
    except KeyboardInterrupt as error:
        record.state, record.error = "interrupted", error_record(error)
        if (run_dir / STOPPED_FROM_WANDB_FILE).exists():  # the agent passed W&B's stop on
            record.error.update(type=STOPPED_FROM_WANDB, message=STOPPED_MESSAGE)
        raise
    except BaseException as error:
        record.state, record.error = "failed", error_record(error)
        if stopped_from_wandb(error):
            record.state = "interrupted"
            record.error.update(type=STOPPED_FROM_WANDB, message=STOPPED_MESSAGE)
        raise
    else:
        record.state = "finished"
        shutil.rmtree(run_dir / BACKUP_DIR, ignore_errors=True)  # nothing left to resume
    finally:
        record.finished_at = now()
        record.wall_time_s = round(time.time() - started, 2)
        _write_last_record(run_dir, record)


def _write_last_record(run_dir: Path, record: Record) -> None:
    """The record of how the run ended, if the file system still takes it.

    On a full disk the backup being written when the disk filled is incomplete, so it
    cannot be resumed from: it is removed to make room for the record. When the record
    still cannot be written, the error that ended the run is what the user must see, so
    this is one warning line and the record stays ``running`` (read as interrupted).
    """
    try:
        write_record(run_dir, record)
        return
    except OSError as error:
        if record.state == "finished":
            raise
        failure = error
    if failure.errno in (errno.ENOSPC, errno.EDQUOT) and (run_dir / BACKUP_DIR).exists():
        shutil.rmtree(run_dir / BACKUP_DIR, ignore_errors=True)
        try:
            write_record(run_dir, record)
            print(f"warning: the disk is full; removed the run's incomplete {BACKUP_DIR}/ to "
                  f"record it as {record.state}", file=sys.stderr, flush=True)
            return
        except OSError as error:
            failure = error
    print(f"warning: could not record the run as {record.state} in {run_dir} "
          f"({type(failure).__name__}: {failure})", file=sys.stderr, flush=True)


STOPPED_FROM_WANDB = "StoppedFromWandb"
STOPPED_MESSAGE = ("stopped from W&B (the sweep's Stop button or API): its grid point is "
                   "open again for `sslexp sweep fill`")


def stopped_from_wandb(error: BaseException) -> bool:
    """A run stopped from W&B: ``wandb.agent`` stops the run it executes in-process by
    raising a bare ``Exception()`` in the run's thread, which is never the main thread."""
    return (type(error) is Exception and not error.args
            and threading.current_thread() is not threading.main_thread())


@contextlib.contextmanager
def signals_interrupt():
    """SIGTERM and SIGHUP raise RunInterrupted in the main thread, like Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise RunInterrupted(f"stopped by {signal.Signals(signum).name}")

    previous = {signum: signal.signal(signum, interrupt) for signum in INTERRUPTING_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _named(record: Record) -> str:
    accuracy = record.test_accuracy
    detail = f", test accuracy {100 * accuracy:.2f}%" if accuracy is not None else ""
    return f" ({record.name or record.kind}{detail})"


DEFAULT_RUNS_DIR = Path("runs")
MAX_RUN_NAME = 128  # characters; a directory name, a W&B run name and part of file names


def check_run_name(name: str, option: str = "--run-name") -> str:
    """A run name that names one directory inside ``runs/``: nothing that could lead out
    of it (a path separator, ``..``), nothing a file system or a shell handles badly."""
    problem = None
    if not name.strip():
        problem = "is empty"
    elif "/" in name or "\\" in name or os.sep in name:
        problem = "contains a path separator"
    elif name in (".", "..") or name.startswith(".."):
        problem = "does not name a directory of its own inside runs/"
    elif any(ord(character) < 32 for character in name):
        problem = "contains a control character"
    elif len(name) > MAX_RUN_NAME:
        problem = f"is {len(name)} characters long (at most {MAX_RUN_NAME})"
    if problem:
        raise InputError(option, name, f"a run name {problem}. Use letters, digits and - _ . "
                                       "(choose where the run goes with --output-dir).")
    return name


def run_location(config: TrainConfig, run_name: str | None, output_dir: Path | None,
                 environ=os.environ) -> tuple[str, Path]:
    """The run's name (also its W&B name) and directory, where the options leave them open.

    In a W&B sweep the name says what the run is (``ssl-p0.05-fold0``) and the
    directory adds the W&B run id, since runs of different sweeps may share a
    grid point; elsewhere the name adds the data set and a hash of the other
    settings, so runs with other settings never share a default directory.
    """
    run_id = environ.get("WANDB_RUN_ID")
    if run_name is not None:
        check_run_name(run_name)
    if run_name is None:
        run_name = config.short_name() if environ.get("WANDB_SWEEP_ID") else (
            config.default_run_name())
    if output_dir is None:
        output_dir = DEFAULT_RUNS_DIR / (f"{run_name}-{run_id}" if run_id else run_name)
    return run_name, Path(output_dir)
