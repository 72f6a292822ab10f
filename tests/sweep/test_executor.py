"""Agent-style command lines and run environments."""

from __future__ import annotations

import json
from pathlib import Path

from sslexp.sweep.executor import build_command, run_environment

PARAMETERS = {"label_fraction": 0.02, "method": "ssl", "augment": True, "fold": 0}


def test_args_expand_to_agent_spelling():
    argv = build_command(
        ["${env}", "${interpreter}", "-m", "sslexp", "train", "${args}"],
        PARAMETERS,
        interpreter="/opt/python",
    )
    assert argv == [
        "/usr/bin/env",
        "/opt/python",
        "-m",
        "sslexp",
        "train",
        "--label_fraction=0.02",
        "--method=ssl",
        "--augment=True",
        "--fold=0",
    ]


def test_other_macros_follow_wandb_agent(monkeypatch, tmp_path):
    monkeypatch.setenv("SWEEP_TEST_VALUE", "from-env")
    template = [
        "${program}",
        "${args_no_hyphens}",
        "${args_json}",
        "${args_no_boolean_flags}",
        "--x=${envvar:SWEEP_TEST_VALUE}",
        "${args_json_file}",
        "${unknown_macro}",
    ]
    argv = build_command(
        template, {"a": 1, "flag": False}, program="train.py", args_json_file=tmp_path / "args.json"
    )
    assert argv == [
        "train.py",
        "a=1",
        "flag=False",
        json.dumps({"a": 1, "flag": False}),
        "--a=1",
        "--x=from-env",
        str(tmp_path / "args.json"),
    ]


def test_run_environment_groups_runs_and_keeps_wandb_in_the_run_dir():
    run_dir = Path("/sweeps/demo/runs/ssl-p0.1-fold0")
    env = run_environment(
        {"PATH": "/bin", "WANDB_MODE": "online"},
        sweep_name="demo",
        run_dir=run_dir,
        run_name="ssl-p0.1-fold0",
        wandb_mode="offline",
        cuda_visible_devices="1",
    )
    assert env["PATH"] == "/bin"
    assert env["WANDB_MODE"] == env["SSLEXP_WANDB_MODE"] == "offline"
    assert env["WANDB_RUN_GROUP"] == env["SSLEXP_GROUP"] == "demo"
    assert env["SSLEXP_OUTPUT_DIR"] == env["WANDB_DIR"] == str(run_dir)
    assert env["SSLEXP_RUN_NAME"] == "ssl-p0.1-fold0"
    assert env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
    assert env["CUDA_VISIBLE_DEVICES"] == "1"


def test_without_gpus_the_inherited_cuda_devices_stay():
    env = run_environment(
        {"CUDA_VISIBLE_DEVICES": "3"},
        sweep_name="s",
        run_dir=Path("/r"),
        run_name="r",
        wandb_mode="disabled",
        cuda_visible_devices=None,
    )
    assert env["CUDA_VISIBLE_DEVICES"] == "3"


def test_a_run_starts_its_own_wandb_service_not_its_launchers(tmp_path):
    env = run_environment(
        {"WANDB_SERVICE": "2-123-unix-/tmp/gone/socket", "KEEP": "1"},
        sweep_name="s",
        run_dir=tmp_path,
        run_name="r",
        wandb_mode="offline",
        cuda_visible_devices=None,
    )
    assert "WANDB_SERVICE" not in env and env["KEEP"] == "1"
