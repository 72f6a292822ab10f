"""One process per run directory: the same `sslexp train` typed in two terminals names one
directory (the default name is a hash of the config); the second process exits 2 at once
naming the first, and a lock left by a dead process is taken over."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from sslexp.cli import main
from sslexp.runs.lock import RunDirectoryBusy, holder_path, run_directory_lock
from sslexp.runs.record import read_record
from tests.faults.helpers import wait_for

TINY_RUN = [
    "--dataset",
    "digits",
    "--image-size",
    "8",
    "--depth",
    "8",
    "--width",
    "4",
    "--method",
    "scratch",
    "--budget",
    "matched",
    "--wandb-mode",
    "disabled",
]

# Holds a run directory's lock until killed, as a long run would.
HOLDER = """
import sys, time
from sslexp.runs.lock import run_directory_lock
with run_directory_lock(sys.argv[1]):
    print("holding", flush=True)
    time.sleep(600)
"""


def hold_lock(run_dir) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(run_dir)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "holding"
    return holder


def test_a_second_process_on_a_held_run_directory_exits_2_at_once_naming_the_holder(
    tmp_path, data_cache
):
    run_dir = tmp_path / "run"
    holder = hold_lock(run_dir)
    try:
        started = time.monotonic()
        result = CliRunner().invoke(
            main, ["train", *TINY_RUN, "--output-dir", str(run_dir), "--cache-dir", str(data_cache)]
        )
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 2, result.output
    assert f"process {holder.pid} on {socket.gethostname()} since " in result.output
    assert "'--output-dir'" in result.output
    assert waited < 5, "refused only after waiting"
    assert not run_dir.exists(), "the refused process wrote into the run directory"


def test_a_lock_left_by_a_killed_process_is_taken_over_with_one_line(tmp_path, capsys):
    run_dir = tmp_path / "run"
    holder = hold_lock(run_dir)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert json.loads(holder_path(run_dir).read_text())["pid"] == holder.pid  # left behind

    with run_directory_lock(run_dir):
        assert json.loads(holder_path(run_dir).read_text())["pid"] == os.getpid()
    warning = capsys.readouterr().err
    assert f"was locked by process {holder.pid}" in warning and "taking it over" in warning
    assert not holder_path(run_dir).exists()


def test_the_lock_is_free_again_once_its_holder_ends(tmp_path):
    run_dir = tmp_path / "run"
    with run_directory_lock(run_dir):
        with pytest.raises(RunDirectoryBusy):  # another holder in this process is refused too
            with run_directory_lock(run_dir):
                pass
    with run_directory_lock(run_dir):
        pass


@pytest.mark.slow
def test_two_identical_train_commands_started_together_one_runs_the_other_exits_2(
    tmp_path, data_cache
):
    """The same command twice, default run name and all: one run, one refusal naming it."""
    command = [
        sys.executable,
        "-m",
        "sslexp",
        "train",
        *TINY_RUN,
        "--max-updates",
        "60",
        "--cache-dir",
        str(data_cache),
    ]
    env = {**os.environ, "WANDB_MODE": "disabled"}
    processes = [
        subprocess.Popen(
            command,
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        refused = wait_for(
            lambda: next((p for p in processes if p.poll() is not None), None),
            60,
            "one of the two to end",
        )
        running = next(p for p in processes if p is not refused)
        assert running.poll() is None, "the refused process did not exit first"
        _, refusal = refused.communicate()
        output, errors = running.communicate(timeout=300)
    finally:
        for process in processes:
            process.kill()
    assert refused.returncode == 2, refusal
    assert f"is in use by process {running.pid} on {socket.gethostname()}" in refusal
    assert running.returncode == 0, errors
    (run_dir,) = [path for path in (tmp_path / "runs").iterdir() if path.is_dir()]
    record = read_record(run_dir, complete=True)
    assert record is not None and record.is_finished and record.test_accuracy is not None
    assert record.provenance["argv"] and not holder_path(run_dir).exists()
