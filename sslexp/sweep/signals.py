"""Route Ctrl-C and SIGTERM to a handler while a group of child processes runs.

Children are started in their own process groups, so a terminal's Ctrl-C reaches
only sslexp, which passes it on exactly once (a run that gets two SIGINTs may
skip writing its results).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Iterator

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def forwarding_signals(handler: Callable[[int], None]) -> Iterator[None]:
    """Call ``handler(signum)`` on SIGINT/SIGTERM inside the block; restore the old handlers after."""
    previous = {signum: signal.signal(signum, lambda received, frame: handler(received))
                for signum in HANDLED_SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def pass_signal(processes: list[subprocess.Popen], signum: int, forceful: bool) -> None:
    """Send ``signum`` to each running child, or kill its whole process group when forceful."""
    for process in processes:
        if process is None or process.poll() is not None:
            continue
        try:
            if forceful:
                os.killpg(process.pid, signal.SIGKILL)
            else:
                process.send_signal(signum)
        except ProcessLookupError:
            pass
