"""`sslexp sweep local|create` and `sslexp sync`, with stand-ins for the training command
and for the `wandb` executable (nothing reaches a server); the agents of `sslexp sweep
agents` are tested in tests/sweep (test_agent_pool.py, test_online_*.py)."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from sslexp.cli import main

# A training command in one line: results.json with state finished, or exit 3 when a == 2.
STANDIN_TRAIN_CODE = (
    "import json, os, sys; args = dict(x[2:].split('=', 1) for x in sys.argv[1:]); "
    "sys.exit(3) if args.get('a') == '2' else None; "
    "json.dump({'state': 'finished', 'config': args, 'test': {'accuracy': 0.5}}, "
    "open(os.path.join(os.environ['SSLEXP_OUTPUT_DIR'], 'results.json'), 'w'))"
)

# A `wandb` executable: logs each call (argv, a few variables, time) and acts the part.
FAKE_WANDB = r'''#!{python}
import json, os, sys, time

def log(**record):
    with open(os.environ["FAKE_WANDB_LOG"], "a") as handle:
        handle.write(json.dumps({"pid": os.getpid(), "time": time.time(), **record}) + "\n")

names = ["CUDA_VISIBLE_DEVICES", "TF_FORCE_GPU_ALLOW_GROWTH", "PATH"]
log(event="call", argv=sys.argv[1:], env={name: os.environ.get(name) for name in names})
command = sys.argv[1]
if command == "sweep":
    print("wandb: Creating sweep with ID: \x1b[33mab12cd34\x1b[0m", file=sys.stderr)
    print("wandb: Run sweep agent with: \x1b[33mwandb agent me/proj/ab12cd34\x1b[0m", file=sys.stderr)
'''


@pytest.fixture
def fake_wandb(tmp_path, monkeypatch):
    """Put a logging stand-in `wandb` first on PATH; return a reader of its log."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    executable = bin_dir / "wandb"
    executable.write_text(FAKE_WANDB.replace("{python}", sys.executable))
    executable.chmod(executable.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "wandb-calls.jsonl"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_WANDB_LOG", str(log))

    def calls(event: str = "call") -> list[dict]:
        if not log.exists():
            return []
        records = [json.loads(line) for line in log.read_text().splitlines()]
        return [record for record in records if record["event"] == event]

    calls.executable = executable
    return calls


def write_sweep(tmp_path, **overrides) -> Path:
    config = {
        "name": "cli-demo",
        "method": "grid",
        "metric": {"name": "test/accuracy", "goal": "maximize"},
        "parameters": {"a": {"values": [1, 3]}, "b": {"value": "x"}},
        "command": ["${env}", "${interpreter}", "-c", STANDIN_TRAIN_CODE, "${args}"],
        **overrides,
    }
    path = tmp_path / "cli-demo.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_sweep_help_lists_local_and_create_with_env_vars():
    assert {"local", "create"} <= set(invoke("sweep", "--help").output.split())
    local_help = " ".join(invoke("sweep", "local", "--help").output.split())
    for text in ("--workers", "--gpus", "--count", "--retry-failed", "--dir", "--wandb-mode",
                 "SSLEXP_SWEEP_WORKERS", "default: offline"):
        assert text in local_help


def test_sweep_help_lists_the_commands_in_workflow_order_with_whole_lines():
    lines = invoke("sweep", "--help").output.split("Commands:")[1].splitlines()
    listed = [line.split()[0] for line in lines if line.startswith("  ") and
              not line.startswith("   ")]
    assert listed == ["plan", "pretrain", "local", "sync", "create", "agents"]
    assert not any(line.rstrip().endswith("...") for line in lines)  # click's truncation


@pytest.mark.parametrize("command, argument", [("local", "SWEEP_FILE"), ("plan", "SWEEP_FILE"),
                                               ("agents", "SWEEP_ID"), ("sync", "SWEEP_DIR")])
def test_positional_arguments_are_documented(command, argument):
    arguments = invoke("sweep", command, "--help").output.split("Arguments:")[1]
    described = arguments.split("Options")[0].split(argument, 1)[1].strip()
    assert argument in arguments and len(described) > 20


def test_the_top_level_help_shows_the_online_workflow():
    text = " ".join(invoke("--help").output.split())
    for step in ("sslexp sweep create", "make pretrain", "sslexp sweep agents", "--gpus 0,1",
                 "sslexp report --wandb"):
        assert step in text


def test_an_invalid_sweep_is_a_usage_error_listing_the_engines_violations(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write_sweep(tmp_path, method="grd", metric={"name": "test/accuracy", "goal": "up"})
    result = invoke("sweep", "local", str(path))
    assert result.exit_code == 2
    assert "'grd' is not one of ['bayes', 'random', 'grid', 'custom']" in result.output
    assert "'up' is not one of ['minimize', 'maximize']" in result.output
    assert not (tmp_path / "sweep-runs").exists()


def test_local_runs_the_grid_and_prints_a_summary(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("sweep", "local", str(write_sweep(tmp_path)), "--wandb-mode", "disabled")
    assert result.exit_code == 0, result.output
    ledger = json.loads((tmp_path / "sweep-runs" / "cli-demo" / "ledger.json").read_text())
    assert sorted(entry["config"]["a"] for entry in ledger["runs"].values()) == [1, 3]
    assert "2 finished (2 runs)" in result.output
    assert "test/accuracy %" in result.output and "50.00" in result.output


def test_local_exits_1_and_says_how_to_retry_when_a_run_fails(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write_sweep(tmp_path, parameters={"a": {"values": [1, 2]}})
    result = invoke("sweep", "local", str(path), "--dir", str(tmp_path / "custom"), "--wandb-mode", "disabled")
    assert result.exit_code == 1
    assert "1 failed" in result.output and "--retry-failed" in result.output
    assert "exited with status 3" in result.output
    assert (tmp_path / "custom" / "ledger.json").exists()


def test_local_rejects_a_malformed_gpu_list(tmp_path):
    result = invoke("sweep", "local", str(write_sweep(tmp_path)), "--gpus", "0,,1")
    assert result.exit_code == 2 and "--gpus" in result.output


@pytest.fixture
def two_gpus(tmp_path, monkeypatch):
    """A stand-in `nvidia-smi` listing two GPUs, first on PATH."""
    from tests.sweep.test_gpus import LISTING, write_nvidia_smi

    bin_dir = write_nvidia_smi(tmp_path / "gpu-bin", LISTING)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


@pytest.mark.parametrize("command", [["sweep", "local", "{sweep}"], ["sweep", "agents", "s1"]],
                         ids=["local", "agents"])
def test_unknown_gpus_exit_2_listing_the_gpus_present(tmp_path, monkeypatch, two_gpus, command):
    monkeypatch.chdir(tmp_path)
    sweep = str(write_sweep(tmp_path))
    result = invoke(*[part.format(sweep=sweep) for part in command], "--gpus", "a,b")
    assert result.exit_code == 2, result.output
    assert "no GPU a, b" in result.output and "GPU 1: NVIDIA H200" in result.output
    assert not (tmp_path / "sweep-runs").exists()


def test_gpus_on_a_machine_without_any_exit_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))  # python, but no nvidia-smi
    result = invoke("sweep", "local", str(write_sweep(tmp_path)), "--gpus", "0")
    assert result.exit_code == 2, result.output
    assert "no GPU to give" in result.output and "leave out --gpus" in result.output


def test_create_wraps_wandb_sweep_and_prints_the_agent_commands(tmp_path, fake_wandb):
    path = write_sweep(tmp_path)
    result = invoke("sweep", "create", str(path), "--project", "proj", "--entity", "me")
    assert result.exit_code == 0, result.output
    assert [call["argv"] for call in fake_wandb()] == [["sweep", "--project", "proj", "--entity", "me", str(path)]]
    assert "sweep id: ab12cd34" in result.output
    assert "sslexp agents me/proj/ab12cd34 --gpus" in result.output
    assert "wandb agent me/proj/ab12cd34" in result.output


def test_create_uses_the_train_project_by_default(tmp_path, fake_wandb, monkeypatch):
    monkeypatch.delenv("WANDB_PROJECT", raising=False)
    assert invoke("sweep", "create", str(write_sweep(tmp_path))).exit_code == 0
    assert fake_wandb()[0]["argv"][:3] == ["sweep", "--project", "sslexp"]


def test_create_checks_the_yaml_before_calling_wandb(tmp_path, fake_wandb):
    result = invoke("sweep", "create", str(write_sweep(tmp_path, method="grd")))
    assert result.exit_code == 2 and "'grd' is not one of" in result.output
    assert fake_wandb() == []


def make_finished_offline_sweep(tmp_path) -> Path:
    sweep_dir = tmp_path / "sweep-runs" / "demo"
    runs = {}
    for run_id in ("aaaa1111", "bbbb2222"):
        (sweep_dir / "runs" / run_id / "wandb" / f"offline-run-20250101_000000-{run_id}").mkdir(parents=True)
        runs[run_id] = {"config": {"a": 1}, "state": "finished", "wandb_dir": f"runs/{run_id}",
                        "results_file": f"runs/{run_id}/results.json"}
    (sweep_dir / "ledger.json").write_text(json.dumps({"sweep": "demo", "runs": runs}))
    return sweep_dir


def test_sync_dry_run_lists_each_run_with_its_group(tmp_path, fake_wandb):
    sweep_dir = make_finished_offline_sweep(tmp_path)
    result = invoke("sync", str(sweep_dir), "--dry-run")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "group=" in line]
    assert len(lines) == 2 and all("group=demo" in line for line in lines)
    assert lines[0].startswith("aaaa1111") and "offline-run-20250101_000000-aaaa1111" in lines[0]
    assert fake_wandb() == []


def test_sync_uploads_each_offline_run(tmp_path, fake_wandb):
    sweep_dir = make_finished_offline_sweep(tmp_path)
    result = invoke("sync", str(sweep_dir), "--project", "proj")
    assert result.exit_code == 0, result.output
    argvs = [call["argv"] for call in fake_wandb()]
    assert [argv[:3] for argv in argvs] == [["sync", "--project", "proj"]] * 2
    assert sorted(Path(argv[-1]).name for argv in argvs) == [
        "offline-run-20250101_000000-aaaa1111", "offline-run-20250101_000000-bbbb2222"]
    assert "uploaded 2 of 2" in result.output
