"""`sslexp sweep local|create` and `sslexp sync`, with stand-ins for the training command
and for the `wandb` executable (nothing reaches a server); the agents of `sslexp sweep
agents` are tested in tests/sweep (test_agent_pool.py, test_online_*.py)."""

from __future__ import annotations

import json
import os
import stat
import sys
import time
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
FAKE_WANDB = r"""#!{python}
import json, os, sys, time

def log(**record):
    with open(os.environ["FAKE_WANDB_LOG"], "a") as handle:
        handle.write(json.dumps({"pid": os.getpid(), "time": time.time(), **record}) + "\n")

names = ["CUDA_VISIBLE_DEVICES", "TF_FORCE_GPU_ALLOW_GROWTH", "PATH"]
log(event="call", argv=sys.argv[1:], env={name: os.environ.get(name) for name in names})
command = sys.argv[1]
if command == "sweep":
    print("wandb: Creating sweep with ID: \x1b[33mab12cd34\x1b[0m", file=sys.stderr)
    print("wandb: Run sweep agent with: \x1b[33mwandb agent me/proj/ab12cd34\x1b[0m",
          file=sys.stderr)
"""


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
    for text in (
        "--workers",
        "--gpus",
        "--count",
        "--retry-failed",
        "--dir",
        "--wandb-mode",
        "SSLEXP_SWEEP_WORKERS",
        "default: offline",
    ):
        assert text in local_help


def test_sweep_help_lists_the_commands_in_workflow_order_with_whole_lines():
    lines = invoke("sweep", "--help").output.split("Commands:")[1].splitlines()
    listed = [
        line.split()[0] for line in lines if line.startswith("  ") and not line.startswith("   ")
    ]
    assert listed == [
        "plan",
        "tune-winners",
        "pretrain",
        "local",
        "sync",
        "create",
        "agents",
        "fill",
    ]
    assert not any(line.rstrip().endswith("...") for line in lines)  # click's truncation


@pytest.mark.parametrize(
    "command, argument",
    [
        ("local", "SWEEP_FILE"),
        ("plan", "SWEEP_FILE"),
        ("agents", "SWEEP_ID"),
        ("sync", "SWEEP_DIR"),
    ],
)
def test_positional_arguments_are_documented(command, argument):
    arguments = invoke("sweep", command, "--help").output.split("Arguments:")[1]
    described = arguments.split("Options")[0].split(argument, 1)[1].strip()
    assert argument in arguments and len(described) > 20


def test_the_top_level_help_shows_the_online_workflow():
    text = " ".join(invoke("--help").output.split())
    for step in (
        "sslexp sweep create",
        "make pretrain",
        "sslexp sweep agents",
        "--gpus 0,1",
        "sslexp report --wandb",
    ):
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
    result = invoke(
        "sweep", "local", str(path), "--dir", str(tmp_path / "custom"), "--wandb-mode", "disabled"
    )
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


@pytest.mark.parametrize(
    "command", [["sweep", "local", "{sweep}"], ["sweep", "agents", "s1"]], ids=["local", "agents"]
)
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


def test_create_makes_the_sweep_through_the_api_with_wandb_silent(
    tmp_path, sweep_on_wandb, monkeypatch
):
    monkeypatch.setenv("WANDB_SILENT", "true")  # `wandb sweep` then prints no id to read
    result = invoke(
        "sweep",
        "create",
        str(write_sweep(tmp_path)),
        "--project",
        "rotnet-study",
        "--entity",
        "acme-team",
    )
    assert result.exit_code == 0, result.output
    (sweep_id,) = [
        name
        for name, place in sweep_on_wandb.sweep_places.items()
        if place == ("acme-team", "rotnet-study")
    ]
    assert sweep_on_wandb.sweep_configs[sweep_id]["parameters"]["a"] == {"values": [1, 3]}
    assert result.output.splitlines()[:2] == [
        f"sweep id: {sweep_id}",
        f"sweep path: acme-team/rotnet-study/{sweep_id}",
    ]
    assert f"sslexp sweep agents acme-team/rotnet-study/{sweep_id} --gpus" in result.output
    sweep_on_wandb.assert_clean()


def test_create_goes_to_the_default_entity_and_wandbs_project_variable(
    tmp_path, sweep_on_wandb, monkeypatch
):
    monkeypatch.setenv("WANDB_PROJECT", "rotnet-study")
    result = invoke("sweep", "create", str(write_sweep(tmp_path)))
    assert result.exit_code == 0, result.output
    assert "sweep path: me/rotnet-study/" in result.output
    assert ("me", "rotnet-study") in sweep_on_wandb.sweep_places.values()


def test_create_without_an_api_key_is_one_line_and_exit_2(tmp_path, sweep_on_wandb, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY")
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("HOME", str(tmp_path))
    result = CliRunner().invoke(main, ["sweep", "create", str(write_sweep(tmp_path))])
    assert result.exit_code == 2, result.output
    assert "no W&B API key: run `wandb login`" in result.output
    assert "Traceback" not in result.output and len(sweep_on_wandb.sweep_places) == 2


def test_create_with_a_key_wandb_rejects_is_one_line_and_exit_2(
    tmp_path, sweep_on_wandb, monkeypatch
):
    monkeypatch.setenv("WANDB_API_KEY", "w" * 40)
    started = time.monotonic()
    result = CliRunner().invoke(main, ["sweep", "create", str(write_sweep(tmp_path))])
    assert result.exit_code == 2, result.output
    assert "rejected the API key" in result.output and "wandb login --relogin" in result.output
    assert "Traceback" not in result.output and len(sweep_on_wandb.sweep_places) == 2
    assert time.monotonic() - started < 60


def test_create_in_an_entity_wandb_does_not_have_is_one_line_and_exit_2(tmp_path, sweep_on_wandb):
    sweep_on_wandb.missing_entities.add("acme-typo")
    result = CliRunner().invoke(
        main, ["sweep", "create", str(write_sweep(tmp_path)), "--entity", "acme-typo"]
    )
    assert result.exit_code == 2, result.output
    assert "W&B has no entity/project acme-typo/sslexp" in result.output
    assert "Traceback" not in result.output and len(sweep_on_wandb.sweep_places) == 2


def test_create_with_no_network_fails_at_once_with_exit_1(tmp_path, monkeypatch):
    import socket

    with socket.socket() as closed:  # a loopback port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
    started = time.monotonic()
    result = CliRunner().invoke(main, ["sweep", "create", str(write_sweep(tmp_path))])
    assert result.exit_code == 1, result.output
    assert f"cannot reach W&B at http://127.0.0.1:{port}" in result.output
    assert "Traceback" not in result.output and time.monotonic() - started < 10


def test_agents_for_a_sweep_that_does_not_exist_exit_2(tmp_path, sweep_on_wandb):
    result = CliRunner().invoke(
        main, ["sweep", "agents", "me/proj/nosuch1", "--logs", str(tmp_path / "logs")]
    )
    assert result.exit_code == 2, result.output
    assert "W&B has no sweep me/proj/nosuch1" in result.output
    assert not (tmp_path / "logs").exists()


def test_create_checks_the_yaml_before_calling_wandb(tmp_path, fake_wandb):
    result = invoke("sweep", "create", str(write_sweep(tmp_path, method="grd")))
    assert result.exit_code == 2 and "'grd' is not one of" in result.output
    assert fake_wandb() == []


@pytest.fixture
def sweep_on_wandb(tmp_path, monkeypatch):
    """A loopback W&B server that holds the sweeps me/proj/ab12cd34 and sweep123."""
    from tests.wandb_standins.server import fake_wandb as wandb_server

    with wandb_server(monkeypatch, tmp_path, entity="me") as backend:
        backend.add_sweep("ab12cd34", [], entity="me", project="proj")
        backend.add_sweep("sweep123", [], entity="me", project="sslexp")
        yield backend


def make_finished_offline_sweep(tmp_path) -> Path:
    sweep_dir = tmp_path / "sweep-runs" / "demo"
    runs = {}
    for run_id in ("aaaa1111", "bbbb2222"):
        (sweep_dir / "runs" / run_id / "wandb" / f"offline-run-20250101_000000-{run_id}").mkdir(
            parents=True
        )
        runs[run_id] = {
            "config": {"a": 1},
            "state": "finished",
            "wandb_dir": f"runs/{run_id}",
            "results_file": f"runs/{run_id}/results.json",
        }
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
        "offline-run-20250101_000000-aaaa1111",
        "offline-run-20250101_000000-bbbb2222",
    ]
    assert "uploaded 2 of 2" in result.output
