"""A quiet console: TensorFlow's C++ and absl log lines kept out of what people read.

TensorFlow 2.21 logs through absl before ``TF_CPP_MIN_LOG_LEVEL`` is read, so
lines such as ``I0000 ... oneDNN custom operations are on`` or ``E0000 ...
oneDNN supports DT_UINT8 only on platforms with AVX-512`` (not an error) reach
the terminal whatever that variable says. They are written by C++ code
straight to file descriptor 2, so they are filtered there: descriptor 2 becomes
a pipe, and a thread copies everything else through at once (progress lines
without a newline included). ``sslexp --verbose`` or ``SSLEXP_VERBOSE=1``
shows them all.
"""

from __future__ import annotations

import atexit
import os
import re
import select
import sys
import threading

VERBOSE_ENV = "SSLEXP_VERBOSE"
# absl/glog lines ("E0000 00:00:1796427450.860636   13802 port.cc:153] ...") and absl's
# notice that logging is not initialised yet.
NATIVE_LOG_LINE = re.compile(
    rb"^(?:[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w./+-]+:\d+\] .*"
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to "
    rb"STDERR)\r?\n$"
)
HOLD_S = 0.2  # a partial line that may be a log line waits this long for its end

_installed = False


def is_verbose(environ=os.environ) -> bool:
    return environ.get(VERBOSE_ENV, "").strip().lower() in ("1", "true", "yes")


def show_native_logs() -> None:
    """Let every C++ log line through, in this process and the processes it starts."""
    os.environ[VERBOSE_ENV] = "1"
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"


# Commands that import TensorFlow in their own process. The sweep commands are not
# filtered: the processes they start inherit descriptor 2, and a run that outlives a
# killed sweep must not be left writing into a pipe nobody reads.
FILTERED_COMMANDS = ("train", "pretrain", "datasets", "visualize", "report")


def is_the_program(argv: list[str] = sys.argv) -> bool:
    """True when this process is `sslexp COMMAND` (or `python -m sslexp COMMAND`) for a
    command that is filtered, not a worker running commands in turn or a test runner."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name != "sslexp.__main__":
        return False
    command = next((token for token in argv[1:] if not token.startswith("-")), None)
    return command in FILTERED_COMMANDS


def filter_native_logs() -> bool:
    """Filter descriptor 2 of this process (once); False where it is not ours to filter
    (another program's process, stderr replaced as by click's test runner, no descriptor)."""
    global _installed
    if _installed or is_verbose() or sys.stderr is not sys.__stderr__ or not is_the_program():
        return False
    try:
        if sys.stderr.fileno() != 2:
            return False
        sys.stderr.flush()
        target = os.dup(2)
    except (AttributeError, OSError, ValueError):
        return False
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    thread = threading.Thread(
        target=_copy, args=(read_end, target), daemon=True, name="native-log-filter"
    )
    thread.start()
    atexit.register(_restore, target, thread)
    _installed = True
    return True


def _copy(read_end: int, target: int) -> None:
    """Copy the pipe to ``target`` without the native log lines."""
    pending = b""
    while True:
        ready, _, _ = select.select([read_end], [], [], HOLD_S if pending else None)
        if not ready:  # a partial line that stayed partial: not a log line
            _write(target, pending)
            pending = b""
            continue
        chunk = os.read(read_end, 65536)
        if not chunk:
            _write(target, pending)
            os.close(read_end)
            return
        lines = (pending + chunk).splitlines(keepends=True)
        pending = b""
        if lines and not lines[-1].endswith(b"\n"):
            last = lines.pop()
            if _may_be_log_line(last):
                pending = last
            else:
                lines.append(last)
        _write(target, b"".join(line for line in lines if not NATIVE_LOG_LINE.match(line)))


def _may_be_log_line(partial: bytes) -> bool:
    return b"\r" not in partial and (partial[:1] in (b"I", b"W", b"E", b"F"))


def _write(target: int, data: bytes) -> None:
    while data:
        try:
            written = os.write(target, data)
        except OSError:
            return
        data = data[written:]


def _restore(target: int, thread: threading.Thread) -> None:
    """At exit: descriptor 2 back, and everything still in the pipe written out."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os.dup2(target, 2)
    thread.join(timeout=2.0)
