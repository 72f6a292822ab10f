"""Pretrained backbones, once: a cache keyed by the pretext config.

Parallel sweep workers asking for the same backbone wait on a file lock; the
first one pretrains, the others then find the finished backbone.
"""

from __future__ import annotations

import json
from pathlib import Path

from sslexp.pretrain import BACKBONE_FILE, PretrainConfig, run_pretraining
from sslexp.results import RESULTS_FILE
from sslexp.tracking import WandbSettings

DEFAULT_CACHE = Path("artifacts/backbones")


def backbone_dir(cache_root: Path, config: PretrainConfig) -> Path:
    return Path(cache_root) / config.directory_name()


def is_finished(directory: Path) -> bool:
    try:
        results = json.loads((directory / RESULTS_FILE).read_text())
    except (OSError, ValueError):
        return False
    return results.get("state") == "finished" and (directory / BACKBONE_FILE).is_file()


def ensure_backbone(config: PretrainConfig, cache_root: Path, data_cache_dir: Path,
                    wandb_settings: WandbSettings = WandbSettings()) -> Path:
    """The path of the backbone for ``config``, pretraining it first if nobody has."""
    from filelock import FileLock

    directory = backbone_dir(cache_root, config)
    if is_finished(directory):
        return directory / BACKBONE_FILE
    directory.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(directory) + ".lock"):
        if not is_finished(directory):
            interrupted = (directory / "backup").exists()
            run_pretraining(config, directory, data_cache_dir, wandb_settings, resume=interrupted)
    return directory / BACKBONE_FILE
