"""Errors the user can act on: which option, what was wrong, what is allowed; and writes
the file system refused, told in one line (which path, why, what to do)."""

from __future__ import annotations

import contextlib
import errno
import os
import re


class InputError(ValueError):
    """Bad input detected before or while loading data or models.

    ``option`` is a config field (``label_fraction``, or ``pretext.epochs`` for a
    nested one) or, for inputs that are not config fields, the option itself
    (``--gpus``). The CLI names the option the user typed for the field and
    turns the error into a usage error (exit status 2).
    """

    def __init__(self, option: str, value: object, problem: str):
        self.option = option
        self.value = value
        self.problem = problem
        super().__init__(f"{option}={value!r}: {problem}")

    def within(self, section: str) -> "InputError":
        """The same error for a field inside ``section`` (``epochs`` -> ``pretext.epochs``)."""
        if self.option.startswith("-"):
            return self
        return InputError(f"{section}.{self.option}", self.value, self.problem)


class DataUnavailableError(RuntimeError):
    """A data set cannot be loaded on this machine right now (e.g. no network)."""


# Write failures: the file system said no. What to do depends on why.
WRITE_ERRNOS = {
    errno.ENOSPC: "the disk is full: free some space (or write elsewhere with --output-dir or "
                  "--cache-dir), then run the same command again",
    errno.EDQUOT: "the disk quota is used up: free some space (or write elsewhere with "
                  "--output-dir or --cache-dir), then run the same command again",
    errno.EROFS: "the file system is read-only: write elsewhere with --output-dir or "
                 "--cache-dir",
    errno.EACCES: "permission denied: make the directory writable for this user, or write "
                  "elsewhere with --output-dir or --cache-dir",
    errno.EPERM: "the file or its directory may not be changed (read-only or immutable, see "
                 "`lsattr`): make it writable, or write elsewhere with --output-dir",
    errno.ENOENT: "a file or directory on the way is missing: check the path",
    errno.ENOTDIR: "a part of the path is a file, not a directory: give a directory path",
    errno.EISDIR: "the path is a directory where a file was expected: remove or rename it",
}
# h5py reports its own write failures in the message ("errno = 28, ... filename = '...'").
_H5_ERRNO = re.compile(r"errno = (\d+)")
_H5_FILENAME = re.compile(r"filename = '([^']+)'")


def write_failure_line(error: BaseException) -> str | None:
    """One line for a write the file system refused (which path, why, what to do), from
    ``error`` or an exception it was raised from; None for any other error."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        line = _describe(error)
        if line:
            return line
        error = error.__cause__ or error.__context__
    return None


def _describe(error: BaseException) -> str | None:
    text = str(error)
    number = getattr(error, "errno", None) if isinstance(error, OSError) else None
    found = _H5_ERRNO.search(text)
    if number not in WRITE_ERRNOS and found:
        number = int(found.group(1))
    if number not in WRITE_ERRNOS:
        return None
    # A refused rename names where the file was going (filename2), not its temporary name.
    path = getattr(error, "filename2", None) or getattr(error, "filename", None)
    if path is None and _H5_FILENAME.search(text):
        path = _H5_FILENAME.search(text).group(1)
    reason = os.strerror(number)
    verb = "use" if number in (errno.ENOENT, errno.ENOTDIR, errno.EISDIR) else "write"
    where = f"cannot {verb} {path}" if path else f"cannot {verb} a file"
    return f"{where}: {reason}; {WRITE_ERRNOS[number]}."


HDF5_WRITE_FAILED = "file write failed"  # in every complaint of HDF5 about a refused write


@contextlib.contextmanager
def quiet_hdf5_write_failures():
    """Inside the block, HDF5's complaints about a refused write, which h5py prints from
    destructors (one traceback per buffer, dozens on a full disk), are left out: the error
    that ends the command says it once."""
    import sys

    def unraisable(report) -> None:
        if HDF5_WRITE_FAILED not in str(report.exc_value):
            previous_unraisable(report)

    def excepthook(kind, value, traceback) -> None:
        if HDF5_WRITE_FAILED not in str(value):
            previous_excepthook(kind, value, traceback)

    previous_unraisable, previous_excepthook = sys.unraisablehook, sys.excepthook
    sys.unraisablehook, sys.excepthook = unraisable, excepthook
    try:
        yield
    finally:
        sys.unraisablehook, sys.excepthook = previous_unraisable, previous_excepthook


def release_failed_writes(error: BaseException) -> None:
    """Close, now, the files a refused write left open (h5py's, held by the frames of
    ``error``'s traceback), keeping their complaints out of the output: left to the
    interpreter's exit, HDF5 prints one traceback per buffer and may crash the process."""
    import gc
    import traceback

    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if error.__traceback__ is not None:
            traceback.clear_frames(error.__traceback__)
        error = error.__cause__ or error.__context__

    with quiet_hdf5_write_failures():
        gc.collect()


def exit_after_failed_write(status: int) -> None:
    """End the process now, Python's exit handlers run but not the C libraries' teardown:
    HDF5 closing a file whose writes failed (a full disk) crashes the interpreter at exit,
    which would turn a clean failure into a segmentation fault (exit 139). Only in a
    process of its own (standard streams not replaced, as click's test runner does)."""
    import atexit
    import sys

    if sys.stderr is not sys.__stderr__ or "h5py" not in sys.modules:
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    atexit._run_exitfuncs()
    os._exit(status)


class WandbUnavailable(RuntimeError):
    """W&B cannot be used as asked (no key, a rejected key, no network, no such entity,
    project or sweep); the message says what to do. ``exit_code``: 1 for the network, 2 for
    what the user must change."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code
