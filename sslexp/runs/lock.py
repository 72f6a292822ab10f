"""One process per run directory.

The default run name is a hash of the config, so the same command typed in two
terminals names one directory; two processes writing one run lose both. Every
``sslexp train`` and ``sslexp pretrain`` holds the directory's lock (a file
lock, like the backbone cache's) for as long as it runs. The lock lives beside
the directory (``.<name>.lock``), so taking it writes nothing inside a run
that may hold finished results; who holds it (pid, host, command, since when)
is written next to it, so a second process can say whom it is waiting for.

The operating system releases the lock when its holder dies, whatever kills
it: a lock left by a dead process is simply taken over, with one line saying
whose it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from sslexp.errors import InputError
from sslexp.runs.record import file_mode, now, write_json_atomic

HOLDER_WAIT_S = 2.0  # how long a refused process waits for the holder to write its name


class RunDirectoryBusy(InputError):
    """Another live process holds the run directory (exit status 2)."""

    def __init__(self, run_dir: Path, holder: dict | None, option: str = "--output-dir"):
        self.run_dir = Path(run_dir)
        self.holder = holder
        super().__init__(option, str(run_dir),
                         f"is in use by {describe_holder(holder)}. Wait for that run to end "
                         "(or stop it), or give this one another --output-dir or --run-name.")


def lock_path(run_dir: Path) -> Path:
    run_dir = Path(run_dir)
    return run_dir.parent / f".{run_dir.name}.lock"


def holder_path(run_dir: Path) -> Path:
    return lock_path(run_dir).with_suffix(".holder.json")


def read_holder(run_dir: Path) -> dict | None:
    """Who holds (or, if it died, last held) the lock of ``run_dir``; None if unknown."""
    try:
        holder = json.loads(holder_path(run_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None


def describe_holder(holder: dict | None) -> str:
    if not holder:
        return "another process (which has not written its name yet)"
    command = " ".join(holder.get("argv") or [])[:120]
    return (f"process {holder.get('pid')} on {holder.get('host')} since "
            f"{holder.get('since')}" + (f" (`{command}`)" if command else ""))


@contextlib.contextmanager
def run_directory_lock(run_dir: Path, option: str = "--output-dir",
                       echo: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold ``run_dir``'s lock inside the block; ``RunDirectoryBusy`` at once if another
    live process holds it."""
    from filelock import FileLock, Timeout

    run_dir = Path(run_dir)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_path(run_dir)), mode=file_mode())
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise RunDirectoryBusy(run_dir, _holder_soon(run_dir), option) from None
    try:
        previous = read_holder(run_dir)
        if previous is not None and previous.get("pid") != os.getpid():
            (echo or _warn)(f"{run_dir} was locked by {describe_holder(previous)}, which "
                            "ended without releasing it; taking it over")
        write_json_atomic(holder_path(run_dir), {
            "pid": os.getpid(), "host": socket.gethostname(), "since": now(),
            "argv": [_program(), *sys.argv[1:]]})
        yield
    finally:
        holder_path(run_dir).unlink(missing_ok=True)
        lock.release()


def _program() -> str:
    """``sslexp`` whether started as the script or as ``python -m sslexp``."""
    name = Path(sys.argv[0]).name
    return "sslexp" if name in ("__main__.py", "sslexp") else name


def _holder_soon(run_dir: Path) -> dict | None:
    """The holder's details, waiting briefly for a holder that has only just taken the lock."""
    deadline = time.monotonic() + HOLDER_WAIT_S
    while True:
        holder = read_holder(run_dir)
        if holder is not None or time.monotonic() > deadline:
            return holder
        time.sleep(0.05)


def _warn(line: str) -> None:
    print(f"warning: {line}", file=sys.stderr, flush=True)
