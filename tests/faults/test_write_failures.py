"""Writes the file system refuses (a full disk, a read-only mount, an immutable file, a
directory that cannot be created): one line naming the path and what to do, exit 1 or 2,
the run's record ending failed where it can still be written, no earlier file damaged.

Tests run as root, whom permission bits do not stop: they use tmpfs and read-only mounts
and `chattr +i`, and are skipped where those are not available."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sslexp.runs.record import RESULTS_FILE, read_record

TINY_RUN = ["--dataset", "digits", "--image-size", "8", "--depth", "8", "--width", "4",
            "--method", "scratch", "--budget", "matched", "--max-updates", "20",
            "--wandb-mode", "disabled"]


def train(tmp_path, data_cache, *options) -> subprocess.CompletedProcess:
    """`sslexp train` as a process of its own: how a user meets a write failure."""
    return subprocess.run([sys.executable, "-m", "sslexp", "train", *TINY_RUN,
                           "--cache-dir", str(data_cache), *options],
                          cwd=tmp_path, env={**os.environ, "WANDB_MODE": "disabled"},
                          capture_output=True, text=True, timeout=300)


def assert_one_line_failure(result, path_part: str, reason: str, advice: str) -> None:
    assert result.returncode in (1, 2), result.stderr
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr, (
        result.stderr)
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert path_part in line and reason in line and advice in line, line


@contextlib.contextmanager
def mounted_tmpfs(path: Path, options: str):
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a tmpfs")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@contextlib.contextmanager
def immutable(path: Path):
    if os.geteuid() != 0 or shutil.which("chattr") is None:
        pytest.skip("needs root and chattr to make a file immutable")
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"chattr +i does not work here: {made.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=False)


@pytest.mark.slow
def test_a_read_only_output_directory_is_one_line_and_exit_1(tmp_path, data_cache):
    with mounted_tmpfs(tmp_path / "ro", "size=1m,ro") as read_only:
        result = train(tmp_path, data_cache, "--output-dir", str(read_only / "run"))
    assert_one_line_failure(result, str(read_only), "Read-only file system",
                            "write elsewhere with --output-dir")


@pytest.mark.slow
def test_a_full_disk_during_training_is_one_line_and_exit_1_never_a_crash(tmp_path,
                                                                          data_cache):
    with mounted_tmpfs(tmp_path / "full", "size=300k") as full:
        result = train(tmp_path, data_cache, "--output-dir", str(full / "run"))
        record = read_record(full / "run")
        warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert_one_line_failure(result, str(full / "run"), "No space left on device",
                            "free some space")
    assert result.returncode == 1
    assert record.state == "failed" and "No space left" in record.error_text()
    assert any("removed the run's incomplete backup/ to record it as failed" in line
               for line in warnings), result.stderr


@pytest.mark.slow
def test_an_immutable_record_of_an_unfinished_run_is_one_line_and_left_as_it_was(
        tmp_path, data_cache):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    record = run_dir / RESULTS_FILE
    record.write_text('{"kind": "train", "state": "running"}')
    with immutable(record):
        result = train(tmp_path, data_cache, "--output-dir", str(run_dir))
    assert_one_line_failure(result, str(run_dir), "Operation not permitted", "immutable")
    assert record.read_text() == '{"kind": "train", "state": "running"}'


@pytest.mark.slow
def test_a_run_that_cannot_write_its_figures_ends_failed_saying_why(tmp_path, data_cache):
    run_dir = tmp_path / "run"
    (run_dir / "figures").mkdir(parents=True)
    with immutable(run_dir / "figures"):
        result = train(tmp_path, data_cache, "--output-dir", str(run_dir))
    assert_one_line_failure(result, str(run_dir / "figures"), "Operation not permitted",
                            "immutable")
    record = read_record(run_dir)
    assert record.state == "failed" and "Operation not permitted" in record.error_text()


@pytest.mark.slow
def test_a_cache_directory_that_cannot_be_created_is_one_line(tmp_path):
    (tmp_path / "a-file").write_text("in the way")
    result = train(tmp_path, tmp_path / "a-file" / "cache", "--output-dir", str(tmp_path / "run"))
    assert_one_line_failure(result, str(tmp_path / "a-file"), "Not a directory",
                            "a part of the path is a file")
