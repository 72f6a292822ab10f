"""Pretrained backbones, once: a cache keyed by the pretrain config.

Parallel sweep workers asking for the same backbone wait on a file lock; the
first one pretrains, the others then find the finished backbone.
"""

from __future__ import annotations

from pathlib import Path

from sslexp.config import PretrainConfig
from sslexp.runs.record import BACKBONE_FILE, BACKUP_DIR, file_mode, read_record
from sslexp.training import progress
from sslexp.training.pretrain import run_pretraining
from sslexp.training.tracking import WandbSettings


def backbone_dir(cache_root: Path, config: PretrainConfig) -> Path:
    return Path(cache_root) / config.directory_name()


def is_finished(directory: Path) -> bool:
    record = read_record(directory)
    return record is not None and record.is_finished and (directory / BACKBONE_FILE).is_file()


def ensure_backbone(config: PretrainConfig, cache_root: Path, data_cache_dir: Path,
                    wandb_settings: WandbSettings = WandbSettings(),
                    progress_to: Path | None = None) -> Path:
    """The path of the backbone for ``config``, pretraining it first if nobody has.

    Input errors name the field as ``TrainConfig`` does too (``pretext.epochs``).
    ``progress_to``: the progress file of the run that asked, which shows the
    pretraining (or the wait for it) as its ``pretrain`` phase.
    """
    from filelock import FileLock, Timeout

    directory = backbone_dir(cache_root, config)
    if is_finished(directory):
        return directory / BACKBONE_FILE
    directory.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(directory) + ".lock", mode=file_mode())
    try:
        lock.acquire(timeout=0)
    except Timeout:
        progress.note_waiting(progress_to, directory, config.pretext.epochs)
        lock.acquire()
    try:
        if not is_finished(directory):
            interrupted = (directory / BACKUP_DIR).exists()
            run_pretraining(config, directory, data_cache_dir, wandb_settings,
                            resume=interrupted, progress_to=progress_to)
    finally:
        lock.release()
    return directory / BACKBONE_FILE
