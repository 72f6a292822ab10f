"""Recorded processes: alive, gone, or a different process with a reused pid."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from sslexp.sweep import processes as liveness


def test_this_process_is_alive():
    assert liveness.is_alive(liveness.identify_process(os.getpid()))


def test_an_exited_process_is_not_alive():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    record = liveness.identify_process(process.pid)
    process.wait()
    assert record is None or not liveness.is_alive(record)


def test_a_reused_pid_with_another_start_time_is_not_the_recorded_process():
    record = {**liveness.identify_process(os.getpid()), "started": 12345.0}
    assert not liveness.is_alive(record)


def test_a_process_on_another_host_is_assumed_alive():
    assert liveness.is_alive({"host": "some-other-host", "pid": 1, "started": 0})
    assert not liveness.is_alive(None)


def test_terminate_stops_a_left_behind_process():
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        record = liveness.identify_process(process.pid)
        assert liveness.terminate(record, grace_s=5)
        assert not liveness.is_alive(record)
        process.wait(timeout=5)  # already reaped by terminate(); must not block
    finally:
        process.kill()


def test_terminate_leaves_a_dead_unreaped_process_alone():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        record = liveness.identify_process(process.pid)
        zombie = liveness.psutil.Process(process.pid)
        deadline = time.monotonic() + 30
        while zombie.status() != liveness.psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
            time.sleep(0.05)
        started = time.monotonic()
        assert not liveness.terminate(record, grace_s=5)
        assert time.monotonic() - started < 1
    finally:
        process.wait()


def test_a_forceful_stop_kills_descendants_in_sessions_of_their_own(tmp_path):
    """An agent's worker runs in its own session: killing the agent must not orphan it."""
    pid_file = tmp_path / "grandchild.pid"
    code = (
        "import subprocess, sys, time; "
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], "
        "start_new_session=True); "
        f"open({str(pid_file)!r}, 'w').write(str(child.pid)); time.sleep(60)"
    )
    process = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline, "the grandchild did not start"
            time.sleep(0.05)
        grandchild = liveness.psutil.Process(int(pid_file.read_text()))
        liveness.pass_signal([process], 15, forceful=True)
        assert process.wait(timeout=10) == -9
        grandchild.wait(timeout=10)
        assert not grandchild.is_running()
    finally:
        process.kill()
