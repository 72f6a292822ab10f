"""Shared fixtures: W&B off, caches in temporary directories, one tiny pretrained backbone."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The smallest configuration that still exercises every code path.
TINY = ["--dataset", "digits", "--image-size", "8", "--depth", "8", "--width", "4"]


@pytest.fixture(scope="session")
def tiny():
    """CLI options for the tiny configuration."""
    return list(TINY)


@pytest.fixture(scope="session")
def data_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("data-cache")


@pytest.fixture(scope="session")
def pretrained_dir(tmp_path_factory, data_cache):
    """A backbone pretrained once for the whole test session (1 epoch, tiny)."""
    from click.testing import CliRunner

    from sslexp.cli import main

    directory = tmp_path_factory.mktemp("pretrained")
    result = CliRunner().invoke(
        main,
        [
            "pretrain",
            *TINY,
            "--epochs",
            "1",
            "--cache-dir",
            str(data_cache),
            "--output-dir",
            str(directory),
            "--wandb-mode",
            "disabled",
        ],
    )
    assert result.exit_code == 0, result.output
    return directory
