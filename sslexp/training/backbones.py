"""Pretrained backbones, once: a cache keyed by the pretrain config.

Every process that pretrains into the cache (`sslexp train --pretrained auto`,
`sslexp pretrain`, `sslexp sweep pretrain`) holds the backbone's file lock
while it does, so processes sharing a file system never pretrain one backbone
at once: the others wait, then find it finished. Online, machines that share
only the W&B project follow ``shared_backbones``' rule (download it, wait for
it, or pretrain it and log it). Inside a W&B sweep run the pretraining runs as
its own process, outside the sweep's environment, so that it is its own W&B
run. A cached backbone that cannot be read is moved aside, with one warning,
and pretrained again.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock, Timeout

from sslexp.config import PRETRAIN_PREFIXES, PretrainConfig, flatten
from sslexp.runs.lifecycle import check_run_dir
from sslexp.runs.protocol import backbone_dir, is_backbone_finished, note_waiting
from sslexp.runs.record import BACKBONE_FILE, BACKUP_DIR, Record, file_mode
from sslexp.training.pretrain import run_pretraining
from sslexp.training.shared_backbones import SharedBackbones
from sslexp.training.tracking import (WandbSettings, group_of, outside_the_sweep, resolve_mode,
                                      sweep_id, warn)


def unreadable(path: Path) -> str | None:
    """Why a .keras file (a zip archive) cannot be loaded, or None when it can be read whole."""
    try:
        with zipfile.ZipFile(path) as archive:
            broken = archive.testzip()
    except (OSError, zipfile.BadZipFile, EOFError) as error:
        return f"{type(error).__name__}: {error}"
    return None if broken is None else f"{broken} is corrupt"


def is_usable(directory: Path) -> bool:
    return is_backbone_finished(directory) and unreadable(directory / BACKBONE_FILE) is None


@contextlib.contextmanager
def cache_lock(directory: Path, echo: Callable[[str], None] = warn):
    """Hold the lock every pretraining into ``directory`` takes; say so when waiting for it."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(f"{directory}.lock", mode=file_mode())
    try:
        lock.acquire(timeout=0)
    except Timeout:
        echo(f"waiting for {lock.lock_file}: another process is pretraining this backbone")
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def set_aside_if_broken(directory: Path, echo: Callable[[str], None] = warn) -> Path | None:
    """Move a finished cache entry whose backbone cannot be read out of the way."""
    if not is_backbone_finished(directory):
        return None
    problem = unreadable(directory / BACKBONE_FILE)
    if problem is None:
        return None
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    aside = directory.with_name(f"{directory.name}.broken-{stamp}")
    os.replace(directory, aside)
    echo(f"cached backbone {directory / BACKBONE_FILE} is unreadable ({problem}); moved it to "
         f"{aside} and pretraining it again")
    return aside


def ensure_backbone(config: PretrainConfig, cache_root: Path, data_cache_dir: Path,
                    wandb_settings: WandbSettings = WandbSettings(),
                    echo: Callable[[str], None] = warn, progress_to: Path | None = None) -> Path:
    """The path of the backbone for ``config``, pretraining it first if nobody has.

    Input errors name the field as ``TrainConfig`` does too (``pretext.epochs``).
    ``progress_to``: the progress file of the run that asked, which shows the
    pretraining (or the wait for it) as its ``pretrain`` phase.
    """
    directory = backbone_dir(cache_root, config)
    if is_usable(directory):
        return directory / BACKBONE_FILE

    def waiting(line: str) -> None:
        echo(line)
        note_waiting(progress_to, directory, config.pretext.epochs)

    if sweep_id() and resolve_mode(wandb_settings.mode) != "disabled":
        pretrain_outside_the_sweep(config, cache_root, data_cache_dir, wandb_settings)
    else:
        with cache_lock(directory, waiting):
            set_aside_if_broken(directory, echo)
            if not is_backbone_finished(directory):
                interrupted = (directory / BACKUP_DIR).exists()
                fill(config, directory, data_cache_dir, wandb_settings, resume=interrupted,
                     progress_to=progress_to)
    if not is_usable(directory):
        raise RuntimeError(f"{directory} holds no finished, readable {BACKBONE_FILE} after "
                           "pretraining; see the pretraining's output above")
    return directory / BACKBONE_FILE


def pretrain_into_cache(config: PretrainConfig, directory: Path, data_cache_dir: Path,
                        wandb_settings: WandbSettings, resume: bool,
                        echo: Callable[[str], None] = warn) -> Record:
    """`sslexp pretrain` into the cache: the lock (and, online, the W&B rule) automatic
    pretraining follows. A finished backbone is refused as ``check_run_dir`` says."""
    with cache_lock(directory, echo):
        set_aside_if_broken(directory, echo)
        check_run_dir(directory, resume)
        return fill(config, directory, data_cache_dir, wandb_settings, resume)


def fill(config: PretrainConfig, directory: Path, data_cache_dir: Path,
         wandb_settings: WandbSettings, resume: bool, progress_to: Path | None = None) -> Record:
    """Pretrain into ``directory`` (lock held); online, download the backbone or wait for
    it instead when another machine has made or is making it."""
    shared = SharedBackbones.for_settings(wandb_settings)
    if shared is None:
        return run_pretraining(config, directory, data_cache_dir, wandb_settings, resume=resume,
                               progress_to=progress_to)
    return shared.obtain(config.key(), directory, lambda on_start: run_pretraining(
        config, directory, data_cache_dir, wandb_settings, resume=resume,
        on_wandb_start=on_start, progress_to=progress_to))



def pretrain_arguments(config: PretrainConfig) -> list[str]:
    """The `sslexp pretrain` options that give ``config``."""
    return [f"--{name}={value}" for name, value in flatten(config, PRETRAIN_PREFIXES).items()]


def pretrain_outside_the_sweep(config: PretrainConfig, cache_root: Path, data_cache_dir: Path,
                               wandb_settings: WandbSettings) -> None:
    """`sslexp pretrain` into the cache as a child process without the sweep's variables:
    its own W&B run (job type pretrain, the sweep's group), whatever the agent's kind."""
    directory = backbone_dir(cache_root, config)
    argv = [sys.executable, "-m", "sslexp", "pretrain", "--resume", *pretrain_arguments(config),
            f"--backbone-cache={cache_root}", f"--output-dir={directory}",
            f"--cache-dir={data_cache_dir}",
            f"--wandb-mode={resolve_mode(wandb_settings.mode)}",
            *wandb_settings.target().arguments()]  # the sweep's entity and project
    group = group_of(wandb_settings)
    if group:
        argv.append(f"--group={group}")
    completed = subprocess.run(argv, env=outside_the_sweep(os.environ), stdin=subprocess.DEVNULL)
    if completed.returncode != 0:
        raise RuntimeError(f"pretraining backbone {config.key()} into {directory} failed "
                           f"(exit status {completed.returncode}); its output is above")
