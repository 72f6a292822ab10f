"""Long-lived workers: which commands run in-process, output capture, and that a sweep's
records do not depend on whether its runs share a process."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest
import yaml

import sslexp
from sslexp.runs.record import LOG_FILE, read_record
from sslexp.sweep.executor import (
    InProcessExecutor,
    IsolatedExecutor,
    RunRequest,
    build_command,
    in_process_command,
)
from sslexp.sweep.runner import LocalSweep, LocalSweepOptions, worker_slots
from sslexp.sweep.spec import load_sweep
from sslexp.sweep.worker import exit_status, output_to

PYTHON = "/venv/bin/python"


def test_sslexp_train_through_this_interpreter_runs_in_process():
    arguments, sys_argv = in_process_command(
        ["/usr/bin/env", PYTHON, "-m", "sslexp", "train", "--fold=0"], PYTHON
    )
    assert arguments == ["train", "--fold=0"]
    assert sys_argv == [str(Path(sslexp.__file__).parent / "__main__.py"), "train", "--fold=0"]


@pytest.mark.parametrize(
    "argv",
    [
        ["/usr/bin/env", "/other/python", "-m", "sslexp", "train"],  # another environment
        ["/usr/bin/env", PYTHON, "-m", "sslexp", "pretrain"],  # not a train run
        ["/usr/bin/env", "FOO=1", PYTHON, "-m", "sslexp", "train"],  # env with settings
        [PYTHON, "train.py", "--fold=0"],
    ],
)
def test_other_commands_get_their_own_process(argv):
    assert in_process_command(argv, PYTHON) is None


def test_the_console_script_of_this_environment_runs_in_process(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "sslexp"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    assert in_process_command(["sslexp", "train", "--a=1"], str(bin_dir / "python")) == (
        ["train", "--a=1"],
        [str(script), "train", "--a=1"],
    )
    assert in_process_command(["sslexp", "train"], "/elsewhere/python") is None


def test_output_to_sends_both_file_descriptors_to_the_log(tmp_path):
    log = tmp_path / "output.log"
    log.write_bytes(b"$ command\n")
    with output_to(str(log)):
        print("from python", file=sys.__stdout__, flush=True)
        os.write(1, b"fd 1\n")
        os.write(2, b"fd 2, as C++ logging writes\n")
    assert log.read_text() == "$ command\nfrom python\nfd 1\nfd 2, as C++ logging writes\n"


def test_exit_status_is_what_a_process_would_report():
    assert [exit_status(code) for code in (None, 0, 3)] == [0, 0, 3]
    assert exit_status("an error message") == 1


def test_per_gpu_starts_that_many_workers_on_each_gpu():
    slots = worker_slots(None, ("0", "1"), per_gpu=3)
    assert [slot.cuda_visible_devices for slot in slots] == ["0", "1"] * 3
    with pytest.raises(ValueError, match="--per-gpu"):
        worker_slots(None, (), per_gpu=2)


TRAIN = ["${env}", "${interpreter}", "-m", "sslexp", "train", "${args}"]


def train_request(tmp_path: Path, name: str, options: list[str]) -> RunRequest:
    config = {option.split("=")[0][2:]: option.split("=", 1)[1] for option in options}
    env = {
        **os.environ,
        "WANDB_MODE": "disabled",
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(Path(sslexp.__file__).parent.parent), os.environ.get("PYTHONPATH")])
        ),
    }
    return RunRequest(name, name, tmp_path / name, build_command(TRAIN, config), env)


@pytest.fixture
def executor(tmp_path):
    executor = InProcessExecutor(working_dir=tmp_path)
    yield executor
    executor.close()


@pytest.mark.slow
def test_a_run_that_kills_its_worker_is_reported_and_the_worker_replaced(executor, tmp_path):
    killed_pids = []

    def kill(pid):
        killed_pids.append(pid)
        os.kill(pid, signal.SIGKILL)

    request = train_request(tmp_path, "killed", ["--dataset=nowhere"])
    assert executor.run(request, kill) == -signal.SIGKILL
    assert "ended (killed by SIGKILL)" in (request.run_dir / LOG_FILE).read_text()
    started = []
    bad_input = train_request(tmp_path, "next", ["--dataset=nowhere"])
    assert executor.run(bad_input, started.append) == 2  # click's usage error, as a process
    assert started and started != killed_pids
    log = (bad_input.run_dir / LOG_FILE).read_text()
    assert log.startswith("$ /usr/bin/env ") and "unknown data set" in log


def test_a_stop_reaches_the_run_in_its_worker(executor, tmp_path):
    request = train_request(tmp_path, "stopped", ["--dataset=digits"])
    status = executor.run(request, lambda pid: executor.stop(signal.SIGTERM, forceful=False))
    assert status in (-signal.SIGTERM, 130)  # killed during imports, or interrupted by sslexp


@pytest.mark.slow
def test_a_wedged_run_is_killed_with_its_worker_after_the_run_timeout(tmp_path):
    executor = InProcessExecutor(working_dir=tmp_path, run_timeout_s=1.0)
    try:
        request = train_request(tmp_path, "wedged", ["--dataset=digits"])
        assert executor.run(request, lambda pid: None) == -signal.SIGKILL
        assert "longer than --run-timeout 1 s" in (request.run_dir / LOG_FILE).read_text()
        assert not executor._idle and not executor._busy  # the next run gets a fresh worker
    finally:
        executor.close()


@pytest.mark.slow
def test_an_isolated_run_that_outlives_the_run_timeout_is_killed(tmp_path):
    executor = IsolatedExecutor(run_timeout_s=0.5)
    request = RunRequest("r", "r", tmp_path / "r", ["sleep", "30"], dict(os.environ))
    assert executor.run(request, lambda pid: None) == -signal.SIGKILL
    assert "(wedged?)" in (request.run_dir / LOG_FILE).read_text()


def tiny_grid_sweep(directory: Path, data_cache: Path, pretrained: Path) -> Path:
    """Two runs that share a process in persistent mode: ssl from a file, then scratch."""
    common = {
        "dataset": "digits",
        "image_size": 8,
        "depth": 8,
        "width": 4,
        "budget": "matched",
        "max_updates": 60,
        "label_fraction": 0.1,
        "cache_dir": str(data_cache),
        "pretrained": str(pretrained / "backbone.keras"),
    }
    config = {
        "name": "modes",
        "method": "grid",
        "metric": {"name": "test/accuracy", "goal": "maximize"},
        "parameters": {
            **{key: {"value": value} for key, value in common.items()},
            "method": {"values": ["ssl", "scratch"]},
        },
        "command": ["${env}", "${interpreter}", "-m", "sslexp", "train", "${args}"],
    }
    path = directory / "modes.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.slow
def test_persistent_and_isolated_workers_give_the_same_records(
    tmp_path, data_cache, pretrained_dir
):
    """Same seeds, same data order, same initial weights: the same metrics to the last bit
    (the runs are deterministic on a CPU), whether runs share a worker or not."""
    sweep_file = tiny_grid_sweep(tmp_path, data_cache, pretrained_dir)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(Path(sslexp.__file__).parent.parent), os.environ.get("PYTHONPATH")])
        ),
    }
    records, pids = {}, {}
    for mode, isolate in (("persistent", False), ("isolated", True)):
        sweep_dir = tmp_path / mode
        ledger = LocalSweep(
            load_sweep(sweep_file),
            LocalSweepOptions(
                sweep_dir=sweep_dir,
                base_env=env,
                wandb_mode="disabled",
                isolate=isolate,
                working_dir=tmp_path,
            ),
        ).run()
        entries = sorted(ledger["runs"].values(), key=lambda entry: entry["name"])
        assert [entry["state"] for entry in entries] == ["finished", "finished"], [
            (sweep_dir / entry["run_dir"] / LOG_FILE).read_text()[-2000:] for entry in entries
        ]
        records[mode] = [read_record(sweep_dir / entry["run_dir"]) for entry in entries]
        pids[mode] = {entry["worker"]["run"]["pid"] for entry in entries}
    assert len(pids["persistent"]) == 1 and len(pids["isolated"]) == 2
    for persistent, isolated in zip(records["persistent"], records["isolated"]):
        assert persistent.name == isolated.name
        assert persistent.history == isolated.history
        assert persistent.test == isolated.test
        assert persistent.best_epoch == isolated.best_epoch
        assert persistent.config == isolated.config and persistent.split == isolated.split
        assert persistent.model == isolated.model
        assert persistent.provenance["argv"] == isolated.provenance["argv"]
    assert records["persistent"][0].model["runtime"]["dtype_policy"] == "float32"
