"""Executing one run: its command line and environment, built as ``wandb agent`` builds
them, and the executors that run it.

The macro expansion (``${args}``, ``${args_no_hyphens}``, ``${args_json}``,
``${envvar:NAME}``, ...) reuses wandb's own functions, so a sweep YAML behaves the
same offline as under a real agent. One difference: ``${interpreter}`` is this
Python (``sys.executable``), not whatever ``python`` is first on PATH.

Every way a run executes goes through one interface, ``Executor``
(``run(request, on_start) -> exit status``, ``stop(signum, forceful)``,
``close()``), with two back ends: ``InProcessExecutor`` (the default: ``sslexp
train`` runs in a long-lived worker process, ``sslexp.sweep.worker``) and
``IsolatedExecutor`` (``--isolate``: one process per run). ``sweep local`` and
online agents (``sslexp.sweep.agent``) both use them, so what a run sees, how its
exit status reads, how it is stopped and how a wedged or dead one is handled do
not depend on where the run came from.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sslexp.runs.protocol import (
    GROUP_ENV,
    KEEP_COMPILED_ENV,
    OUTPUT_DIR_ENV,
    RUN_NAME_ENV,
    WANDB_MODE_ENV,
)
from sslexp.runs.record import LOG_FILE
from sslexp.sweep.processes import pass_signal
from sslexp.sweep.spec import to_engine_config
from sslexp.sweep.worker import WorkerGone, WorkerProcess

ARGS_JSON_FILE = "args.json"
# A worker keeps this many compiled models for its next runs (sslexp.training.runtime).
KEPT_COMPILED_MODELS = 2
# Runs sharing a GPU must not each reserve all of its memory at start.
SHARED_GPU_ENV = {
    "TF_FORCE_GPU_ALLOW_GROWTH": "true",
    "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
}  # the same for JAX


def build_command(
    command_template: list[str],
    parameters: Mapping[str, Any],
    program: str | None = None,
    interpreter: str = sys.executable,
    args_json_file: Path | None = None,
) -> list[str]:
    """Expand the YAML's ``command`` for one run's parameters into an argv list."""
    from wandb.sdk.launch.sweeps import utils as sweep_utils

    template = sweep_utils.create_sweep_command(list(command_template))
    variables = sweep_utils.create_sweep_command_args({"args": to_engine_config(parameters)})
    variables["interpreter"] = [interpreter]
    variables["program"] = [program] if program else []
    variables["env"] = ["/usr/bin/env"] if platform.system() != "Windows" else []
    if args_json_file is not None:
        variables["args_json_file"] = [str(args_json_file)]
    argv: list[str] = []
    for part in template:
        part = str(part)
        if part.startswith("${") and part.endswith("}"):
            argv += [str(item) for item in variables.get(part[2:-1]) or []]
        else:
            argv.append(part)
    return argv


def uses_args_json_file(command_template: list[str]) -> bool:
    return "${args_json_file}" in command_template


# The W&B service of the process that starts a run (an agent, a test, a notebook): a run
# starts its own, so one that dies is never reported finished on its behalf, and a service
# that has since ended is never tried.
PARENT_ONLY_ENV = ("WANDB_SERVICE",)


def run_environment(
    base_env: Mapping[str, str],
    *,
    sweep_name: str,
    run_dir: Path,
    run_name: str,
    wandb_mode: str,
    cuda_visible_devices: str | None,
) -> dict[str, str]:
    """A local sweep run's environment: W&B offline by default, grouped by sweep, writing
    into its run dir, with a W&B service of its own."""
    env = {key: value for key, value in base_env.items() if key not in PARENT_ONLY_ENV}
    env.update(
        {
            "WANDB_MODE": wandb_mode,
            WANDB_MODE_ENV: wandb_mode,
            "WANDB_RUN_GROUP": sweep_name,
            GROUP_ENV: sweep_name,
            OUTPUT_DIR_ENV: str(run_dir),
            RUN_NAME_ENV: run_name,
            "WANDB_DIR": str(run_dir),
            **SHARED_GPU_ENV,
        }
    )
    if cuda_visible_devices is not None:
        env["CUDA_VISIBLE_DEVICES"] = cuda_visible_devices
    return env


def describe_command(argv: list[str]) -> str:
    """A copy-pasteable rendering of argv for logs."""
    return " ".join(shlex.quote(part) for part in argv)


def in_process_command(argv: list[str], interpreter: str) -> tuple[list[str], list[str]] | None:
    """(``sslexp`` arguments, ``sys.argv``) when ``argv`` is ``[env] INTERPRETER -m sslexp train
    ...`` or ``[env] sslexp train ...`` of this environment, which a worker can run in-process;
    None for any other command."""
    parts = list(argv)
    if parts and parts[0] in ("/usr/bin/env", "env"):
        parts = parts[1:]  # ${env} alone; `env NAME=value ...` stays a subprocess
    if parts[:1] == [interpreter] and parts[1:4] == ["-m", "sslexp", "train"]:
        import sslexp

        return parts[3:], [str(Path(sslexp.__file__).parent / "__main__.py"), *parts[3:]]
    if len(parts) >= 2 and os.path.basename(parts[0]) == "sslexp" and parts[1] == "train":
        script = shutil.which(parts[0])
        if script and Path(script).absolute().parent == Path(interpreter).absolute().parent:
            return parts[1:], [script, *parts[1:]]
    return None


@dataclass(frozen=True)
class RunRequest:
    """One run to execute: its command line and environment, and where its files go
    (its output is appended to ``run_dir/output.log``)."""

    run_id: str
    name: str
    run_dir: Path
    argv: list[str]
    env: dict[str, str]


def sweep_run_request(
    spec,
    run_id: str,
    name: str,
    config: Mapping[str, Any],
    run_dir: Path,
    *,
    base_env: Mapping[str, str],
    wandb_mode: str,
    cuda_visible_devices: str | None,
    interpreter: str = sys.executable,
) -> RunRequest:
    """A local sweep's run: the YAML's command for ``config``, the environment a local
    sweep gives it (``run_environment``)."""
    args_json_file = run_dir / ARGS_JSON_FILE if uses_args_json_file(spec.command) else None
    argv = build_command(
        spec.command,
        config,
        program=spec.program,
        interpreter=interpreter,
        args_json_file=args_json_file,
    )
    if args_json_file is not None:
        args_json_file.parent.mkdir(parents=True, exist_ok=True)
        args_json_file.write_text(json.dumps(dict(config)))
    env = run_environment(
        base_env,
        sweep_name=spec.name,
        run_dir=run_dir,
        run_name=name,
        wandb_mode=wandb_mode,
        cuda_visible_devices=cuda_visible_devices,
    )
    return RunRequest(run_id, name, run_dir, argv, env)


class Executor(Protocol):
    """Runs one request at a time per calling thread; several threads may share one."""

    def run(self, request: RunRequest, on_start: Callable[[int], None]) -> int:
        """Run to the end; the exit status a process would have had (negative: killed by
        that signal). ``on_start`` gets the pid of the process running it."""

    def stop(self, signum: int, forceful: bool) -> None:
        """Pass ``signum`` to every running run (kill them when forceful); runs started
        later get it too."""

    def interrupt(self, signum: int) -> None:
        """Pass ``signum`` to the running runs only (a stop of runs, not of the executor)."""

    def close(self) -> None:
        """Let whatever outlives a run exit."""


class IsolatedExecutor:
    """Each run as its own process, as ``wandb agent`` runs it, its output appended to the
    run's log. A run that outlives ``run_timeout_s`` is killed (wedged)."""

    def __init__(self, *, working_dir: Path | None = None, run_timeout_s: float | None = None):
        self.working_dir = working_dir
        self.run_timeout_s = run_timeout_s
        self._processes: dict[str, subprocess.Popen] = {}
        self._stop_signal: int | None = None
        self._guard = threading.Lock()

    def run(self, request: RunRequest, on_start: Callable[[int], None]) -> int:
        request.run_dir.mkdir(parents=True, exist_ok=True)
        log_path = request.run_dir / LOG_FILE
        with open(log_path, "ab") as log:
            log.write(f"$ {describe_command(request.argv)}\n".encode())
            log.flush()
            try:
                process = subprocess.Popen(
                    request.argv,
                    env=request.env,
                    cwd=self.working_dir,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # signals reach it only through stop()
                )
            except OSError as error:
                log.write(f"cannot start the command: {error}\n".encode())
                return 127
        with self._guard:
            self._processes[request.run_id] = process
            late_stop = self._stop_signal
        if late_stop is not None:  # the stop came while this run was starting
            process.send_signal(late_stop)
        on_start(process.pid)
        try:
            return process.wait(timeout=self.run_timeout_s)
        except subprocess.TimeoutExpired:
            note(log_path, wedged_text(self.run_timeout_s))
            pass_signal([process], signal.SIGKILL, forceful=True)
            return process.wait()
        finally:
            with self._guard:
                self._processes.pop(request.run_id, None)

    def stop(self, signum: int, forceful: bool) -> None:
        with self._guard:
            self._stop_signal = signum
            processes = list(self._processes.values())
        pass_signal(processes, signum, forceful)

    def interrupt(self, signum: int) -> None:
        """Pass ``signum`` to the running runs only: runs started later are not stopped."""
        with self._guard:
            processes = list(self._processes.values())
        pass_signal(processes, signum, False)

    def close(self) -> None:
        """Nothing outlives a run here."""


class InProcessExecutor:
    """Runs of ``sslexp train`` in long-lived worker processes (``sslexp.sweep.worker``):
    imports are paid once per worker, not once per run, and a worker keeps the
    compiled steps of its last models for the runs after (``KEEP_COMPILED_ENV``).

    Any other command runs as its own process (``IsolatedExecutor``). Each run
    takes an idle worker that sees its GPUs, or starts one. A run whose worker
    dies is reported with the worker's exit status (negative: killed by that
    signal), as its own process would have been; a run that outlives
    ``run_timeout_s`` (wedged) has its worker killed; a run that fails, or whose
    worker does not clean up within ``ready_timeout_s``, retires its worker.
    Either way the next run gets a fresh worker.
    """

    def __init__(
        self,
        *,
        interpreter: str = sys.executable,
        working_dir: Path | None = None,
        run_timeout_s: float | None = None,
        ready_timeout_s: float = 120.0,
    ):
        self.isolated = IsolatedExecutor(working_dir=working_dir, run_timeout_s=run_timeout_s)
        self.interpreter = interpreter
        self.working_dir = working_dir
        self.run_timeout_s = run_timeout_s
        self.ready_timeout_s = ready_timeout_s
        self._idle: list[WorkerProcess] = []
        self._busy: set[WorkerProcess] = set()
        self._stop_signal: int | None = None
        self._guard = threading.Lock()

    def run(self, request: RunRequest, on_start: Callable[[int], None]) -> int:
        command = in_process_command(request.argv, self.interpreter)
        if command is None:
            return self.isolated.run(request, on_start)
        arguments, sys_argv = command
        env = {KEEP_COMPILED_ENV: str(KEPT_COMPILED_MODELS), **request.env}
        request.run_dir.mkdir(parents=True, exist_ok=True)
        log = request.run_dir / LOG_FILE
        with open(log, "ab") as handle:
            handle.write(f"$ {describe_command(request.argv)}\n".encode())
        worker = self._take_worker(env)
        try:
            worker.start(arguments, sys_argv, env, self.working_dir, log)
        except WorkerGone:  # it died since its last run: one fresh try
            self._retire(worker)
            worker = self._take_worker(env)
            worker.start(arguments, sys_argv, env, self.working_dir, log)
        with self._guard:
            late_stop = self._stop_signal
        if late_stop is not None:  # the stop came while this run was starting
            worker.process.send_signal(late_stop)
        on_start(worker.pid)
        ended = worker.wait_for_end(self.run_timeout_s)
        if ended is None:
            note(log, wedged_text(self.run_timeout_s) + "; its worker process was replaced")
            self._retire(worker, kill=True)
            return -signal.SIGKILL
        status, died = ended
        if died:
            note(log, f"the worker process running this run ended ({describe_exit(status)})")
            self._retire(worker)
        elif not worker.wait_until_ready(self.ready_timeout_s):
            note(
                log,
                f"the worker process did not clean up within {self.ready_timeout_s:g} s "
                "after this run; it was replaced",
            )
            self._retire(worker, kill=True)
        elif status != 0:
            self._retire(worker)  # nothing a failed run left behind can reach later runs
        else:
            with self._guard:
                self._busy.discard(worker)
                self._idle.append(worker)
        return status

    def _take_worker(self, env: Mapping[str, str]) -> WorkerProcess:
        """An idle worker that sees the run's GPUs, or a new one started with the run's
        environment."""
        devices = env.get("CUDA_VISIBLE_DEVICES")
        with self._guard:
            for worker in list(self._idle):
                if worker.alive() and worker.devices == devices:
                    self._idle.remove(worker)
                    self._busy.add(worker)
                    return worker
        worker = WorkerProcess(self.interpreter, env, self.working_dir)
        with self._guard:
            self._busy.add(worker)
        return worker

    def _retire(self, worker: WorkerProcess, kill: bool = False) -> None:
        with self._guard:
            self._busy.discard(worker)
            if worker in self._idle:
                self._idle.remove(worker)
        if kill:
            worker.kill()
        worker.close()

    def stop(self, signum: int, forceful: bool) -> None:
        self.isolated.stop(signum, forceful)
        with self._guard:
            self._stop_signal = signum
            busy = [worker.process for worker in self._busy]
        pass_signal(busy, signum, forceful)

    def interrupt(self, signum: int) -> None:
        """Pass ``signum`` to the running runs only: runs started later are not stopped."""
        self.isolated.interrupt(signum)
        with self._guard:
            busy = [worker.process for worker in self._busy]
        pass_signal(busy, signum, False)

    def close(self) -> None:
        """Let every idle worker exit."""
        with self._guard:
            workers, self._idle = self._idle, []
        for worker in workers:
            worker.close()


def make_executor(
    isolate: bool,
    *,
    interpreter: str = sys.executable,
    working_dir: Path | None = None,
    run_timeout_s: float | None = None,
) -> Executor:
    """Long-lived workers for ``sslexp train`` runs, or one process per run with ``isolate``."""
    if isolate:
        return IsolatedExecutor(working_dir=working_dir, run_timeout_s=run_timeout_s)
    return InProcessExecutor(
        interpreter=interpreter, working_dir=working_dir, run_timeout_s=run_timeout_s
    )


def note(log: Path, line: str) -> None:
    """A line of the sweep's own in the run's log."""
    with open(log, "ab") as handle:
        handle.write(f"sslexp sweep: {line}\n".encode())


def wedged_text(timeout_s: float | None) -> str:
    return f"the run ran longer than --run-timeout {timeout_s:g} s (wedged?) and was killed"


def describe_exit(status: int) -> str:
    """``exit status N`` or ``killed by SIGNAME``."""
    if status >= 0:
        return f"exit status {status}"
    try:
        return f"killed by {signal.Signals(-status).name}"
    except ValueError:
        return f"killed by signal {-status}"
