"""Where `sslexp train` logs to W&B, and what it says when W&B cannot be used: one line,
no traceback, nothing written."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import sslexp
from sslexp.runs.record import read_record

TINY = [
    "--dataset=digits",
    "--image-size=8",
    "--depth=8",
    "--width=4",
    "--label-fraction=0.1",
    "--budget=matched",
    "--max-updates=2",
]


def sslexp_train(tmp_path, data_cache, *options, **env):
    environ = {**os.environ, "PYTHONPATH": str(Path(sslexp.__file__).resolve().parents[1]), **env}
    for name in ("WANDB_PROJECT", "WANDB_ENTITY", "SSLEXP_PROJECT", "SSLEXP_ENTITY"):
        if name not in env:
            environ.pop(name, None)
    environ.pop("WANDB_SERVICE", None)  # a service an earlier test of this process started
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "sslexp",
            "train",
            *TINY,
            f"--cache-dir={data_cache}",
            f"--backbone-cache={tmp_path / 'backbones'}",
            f"--output-dir={tmp_path / 'run'}",
            *options,
        ],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_wandb_project_sends_the_run_and_its_automatic_pretraining_there(tmp_path, data_cache):
    done = sslexp_train(
        tmp_path,
        data_cache,
        "--method=ssl",
        "--pretrained=auto",
        "--pretext-epochs=1",
        "--pretext-batch-size=128",
        WANDB_MODE="offline",
        WANDB_PROJECT="rotnet-study",
        WANDB_DIR="",
        WANDB_SILENT="true",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    run = read_record(tmp_path / "run")
    (backbone,) = [path for path in (tmp_path / "backbones").iterdir() if path.is_dir()]
    pretraining = read_record(backbone)
    assert run.wandb["project"] == "rotnet-study" and run.wandb["mode"] == "offline"
    assert pretraining.wandb["project"] == "rotnet-study"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_online_without_an_api_key_is_one_clear_line_and_exit_2(tmp_path, data_cache, monkeypatch):
    from tests.wandb_standins.server import fake_wandb

    with fake_wandb(monkeypatch, tmp_path) as backend:
        done = sslexp_train(
            tmp_path,
            data_cache,
            "--method=scratch",
            WANDB_MODE="online",
            WANDB_API_KEY="",
            NETRC=str(tmp_path / "no-netrc"),
            HOME=str(tmp_path),
        )
        assert not backend.runs
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    (error,) = [line for line in done.stderr.splitlines() if line.startswith("Error")]
    assert "no W&B API key: run `wandb login`" in error
    assert read_record(tmp_path / "run") is None


@pytest.mark.slow
def test_online_without_network_fails_at_once_with_exit_1(tmp_path, data_cache):
    port = closed_port()
    started = time.monotonic()
    done = sslexp_train(
        tmp_path,
        data_cache,
        "--method=scratch",
        WANDB_MODE="online",
        WANDB_API_KEY="k" * 40,
        WANDB_BASE_URL=f"http://127.0.0.1:{port}",
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert f"cannot reach W&B at http://127.0.0.1:{port}" in done.stderr
    assert read_record(tmp_path / "run") is None
    assert time.monotonic() - started < 60  # the client alone retries for minutes


@pytest.mark.slow
def test_online_in_an_entity_wandb_does_not_have_is_one_line_and_exit_2(
    tmp_path, data_cache, monkeypatch
):
    from tests.wandb_standins.server import fake_wandb

    with fake_wandb(monkeypatch, tmp_path) as backend:
        backend.missing_entities.add("acme-typo")
        done = sslexp_train(
            tmp_path,
            data_cache,
            "--method=scratch",
            "--entity=acme-typo",
            WANDB_MODE="online",
            WANDB_INIT_TIMEOUT="30",
        )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    (error,) = [line for line in done.stderr.splitlines() if line.startswith("Error")]
    assert "acme-typo/sslexp" in error and "check the entity, project" in error
    assert read_record(tmp_path / "run") is None
