"""The one in-process runner: a long-lived process that runs one ``sslexp train`` after
another, so that runs pay for importing TensorFlow (or JAX, or PyTorch), Keras and
sslexp once per worker instead of once per run. Local sweeps and online agents both
hand it their runs through ``sslexp.sweep.executor.InProcessExecutor``.

The parent (``WorkerProcess``) sends one JSON line per run over a pipe: the
command line, environment, working directory and log file. The worker points
its file descriptors 1 and 2 at the run's log (so whatever TensorFlow's C++
code writes lands there too), sets the run's environment and ``sys.argv``,
runs the command through the same click entry point a process would, and
answers ``ended`` with the exit status the process would have had. It then
puts back what the run may have changed (``WorkerState.restore``: Keras'
session and dtype policy, wandb's settings, warning filters, signal handlers,
environment, working directory, ``sys.argv``) and answers ``ready``.

The run gets its signals as a process of its own would (SIGTERM, SIGINT: the
run records itself as interrupted). Everything a run does that outlives it in
an ordinary process (a crash, a signal, a hang while cleaning up) ends or
wedges only this worker: the parent notes it in the run's log, reports the
exit status, and starts a fresh worker for the next run.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
import traceback
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

from sslexp.sweep.between_runs import clear_keras_session, collect_garbage

ENDED = "ended"
READY = "ready"


# The worker's side.


@contextlib.contextmanager
def output_to(log_path: str) -> Iterator[None]:
    """File descriptors 1 and 2 (and so sys.stdout, sys.stderr and C++ logging) appended to
    ``log_path`` inside the block."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log_path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def exit_status(code) -> int:
    """What a process exiting with ``sys.exit(code)`` reports."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def run_command(arguments: list[str]) -> int:
    """``sslexp ARGUMENTS`` in this process; the exit status a process would have had."""
    try:
        from sslexp.cli import main

        main(args=arguments, prog_name="sslexp")
    except SystemExit as exit:
        return exit_status(exit.code)
    except KeyboardInterrupt:
        traceback.print_exc()
        return -signal.SIGINT  # an uncaught Ctrl-C ends a process by SIGINT
    except BaseException:  # what an uncaught exception would print before exit status 1
        traceback.print_exc()
        return 1
    return 0


class WorkerState:
    """What a run may change in the process, captured at start and restored after each run."""

    def __init__(self):
        self.environment = dict(os.environ)
        self.directory = os.getcwd()
        self.argv = list(sys.argv)
        self.warning_filters = list(warnings.filters)
        self.handlers = {
            signum: signal.getsignal(signum)
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        }

    def enter(self, request: Mapping) -> None:
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"] or self.directory)
        sys.argv = list(request["sys_argv"])

    def restore(self, exit_status: int = 0) -> None:
        """Back to the state before the run, Keras' included. A W&B run the command left
        unfinished (interrupted while W&B started) ends with the run's exit status."""
        for signum, handler in self.handlers.items():
            signal.signal(signum, handler)
        if "keras" in sys.modules:
            import keras

            clear_keras_session()
            keras.config.set_dtype_policy("float32")
        if "wandb" in sys.modules:  # settings read from the run's environment (its run id)
            import wandb

            wandb.teardown(exit_code=1 if exit_status else None)
        warnings.filters[:] = self.warning_filters
        sys.argv = list(self.argv)
        os.chdir(self.directory)
        os.environ.clear()
        os.environ.update(self.environment)
        collect_garbage()


def serve(requests, replies) -> int:
    """Run the requests read from ``requests`` until it closes."""
    state = WorkerState()

    def reply(**message):
        replies.write(json.dumps(message) + "\n")
        replies.flush()

    for line in requests:
        request = json.loads(line)
        with output_to(request["log"]):  # cleaning up may print too: it goes to the same log
            state.enter(request)
            status = run_command(request["arguments"])
            reply(event=ENDED, exit_code=status)
            state.restore(status)
        reply(event=READY)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m sslexp.sweep.worker REQUEST_FD REPLY_FD``."""
    request_fd, reply_fd = (int(value) for value in (argv or sys.argv[1:]))
    with os.fdopen(request_fd, "r") as requests, os.fdopen(reply_fd, "w") as replies:
        try:
            return serve(requests, replies)
        except (KeyboardInterrupt, BrokenPipeError):
            return 0


# The parent's side.


class WorkerGone(Exception):
    """The worker process ended, or stopped answering, outside a run."""


class WorkerProcess:
    """One worker process and its two pipes, as the sweep sees it."""

    def __init__(self, interpreter: str, env: Mapping[str, str], working_dir: Path | None):
        request_read, self._request_write = os.pipe()
        self._reply_read, reply_write = os.pipe()
        try:
            self.process = subprocess.Popen(
                [interpreter, "-m", "sslexp.sweep.worker", str(request_read), str(reply_write)],
                env=dict(env),
                cwd=working_dir,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(request_read, reply_write),
                start_new_session=True,  # signals reach it only through the sweep
            )
        finally:
            os.close(request_read)
            os.close(reply_write)
        self._buffer = b""
        self.devices = env.get("CUDA_VISIBLE_DEVICES")  # fixed for the process's life
        self.runs = 0

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def start(
        self,
        arguments: list[str],
        sys_argv: list[str],
        env: Mapping[str, str],
        cwd: Path | None,
        log: Path,
    ) -> None:
        """Hand the worker a run; raises WorkerGone if it cannot take it."""
        request = {
            "arguments": arguments,
            "sys_argv": sys_argv,
            "env": dict(env),
            "cwd": str(cwd) if cwd else None,
            "log": str(log),
        }
        try:
            os.write(self._request_write, (json.dumps(request) + "\n").encode())
        except OSError as error:
            raise WorkerGone(f"the worker process did not take the run ({error})") from error
        self.runs += 1

    def wait_for_end(self, timeout_s: float | None = None) -> tuple[int, bool] | None:
        """(the run's exit status, whether the worker died during it); a worker that died
        gives its own exit status (negative: killed by that signal). None: the run did not
        end within ``timeout_s``."""
        try:
            message = self._next_message(timeout_s)
        except TimeoutError:
            return None
        if message is None:
            return self.process.wait(), True
        return int(message["exit_code"]), False

    def wait_until_ready(self, timeout_s: float) -> bool:
        """True once the worker has cleaned up after the run, False if it did not in time."""
        try:
            message = self._next_message(timeout_s)
        except TimeoutError:
            return False
        return message is not None and message.get("event") == READY

    def _next_message(self, timeout_s: float | None) -> dict | None:
        """The next reply; None once the worker has closed its end (it is gone)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while b"\n" not in self._buffer:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            readable, _, _ = select.select([self._reply_read], [], [], wait)
            if not readable:
                raise TimeoutError
            chunk = os.read(self._reply_read, 65536)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def close(self, grace_s: float = 30.0) -> None:
        """Let the worker finish and exit (killed after ``grace_s``)."""
        with contextlib.suppress(OSError):
            os.close(self._request_write)
        deadline = time.monotonic() + grace_s
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.alive():
            self.kill()
        self.process.wait()
        with contextlib.suppress(OSError):
            os.close(self._reply_read)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main())
