"""The processes a sweep starts: is a recorded one still alive, and how signals
reach them.

A pid alone is not enough (pids are reused), so each record also keeps the
process's start time and host; a process on another host cannot be checked and
is assumed alive. Children are started in their own process groups, so a
terminal's Ctrl-C reaches only sslexp, which passes it on exactly once (a run
that gets two SIGINTs may skip writing its results).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import psutil

_START_TIME_TOLERANCE_S = 1.0


def identify_process(pid: int) -> dict[str, Any] | None:
    """``{"host", "pid", "started"}`` for a live process, None if it is gone."""
    try:
        started = psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    return {"host": socket.gethostname(), "pid": pid, "started": started}


def is_on_this_host(record: dict[str, Any] | None) -> bool:
    return bool(record) and record.get("host") == socket.gethostname()


def is_alive(record: dict[str, Any] | None) -> bool:
    """True while the recorded process runs (or cannot be checked from this host)."""
    if not record or record.get("pid") is None:
        return False
    if not is_on_this_host(record):
        return True
    process = _matching_process(record)
    return process is not None and process.status() != psutil.STATUS_ZOMBIE


def terminate(record: dict[str, Any] | None, grace_s: float = 10.0) -> bool:
    """Stop a recorded process left behind by a dead worker; True if one was stopped."""
    if not record or not is_on_this_host(record):
        return False
    process = _matching_process(record)
    if process is None:
        return False
    try:
        if process.status() == psutil.STATUS_ZOMBIE:  # dead, waiting for a parent to reap it
            return False
        process.terminate()
        process.wait(timeout=grace_s)
    except psutil.TimeoutExpired:
        process.kill()
        process.wait(timeout=grace_s)
    except psutil.NoSuchProcess:
        pass
    return True


def _matching_process(record: dict[str, Any]) -> psutil.Process | None:
    try:
        process = psutil.Process(record["pid"])
        if abs(process.create_time() - float(record.get("started", 0))) > _START_TIME_TOLERANCE_S:
            return None
        return process
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def forwarding_signals(handler: Callable[[int], None]) -> Iterator[None]:
    """Call ``handler(signum)`` on SIGINT/SIGTERM inside the block; restore the old handlers
    after."""
    previous = {
        signum: signal.signal(signum, lambda received, frame: handler(received))
        for signum in HANDLED_SIGNALS
    }
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def pass_signal(processes: list[subprocess.Popen], signum: int, forceful: bool) -> None:
    """Send ``signum`` to each running child, or kill it and everything it started when
    forceful (its process group, and descendants in groups of their own, such as an
    agent's worker)."""
    for process in processes:
        if process is None or process.poll() is not None:
            continue
        try:
            if forceful:
                kill_tree(process.pid)
            else:
                process.send_signal(signum)
        except ProcessLookupError:
            pass


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid``'s process group and every descendant of ``pid``."""
    try:
        descendants = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    for descendant in descendants:
        with contextlib.suppress(psutil.NoSuchProcess):
            descendant.kill()
