"""Executing one run of a sweep: its command line and environment, built as
``wandb agent`` builds them, and the process that runs it with its output captured.

The macro expansion (``${args}``, ``${args_no_hyphens}``, ``${args_json}``,
``${envvar:NAME}``, ...) reuses wandb's own functions, so a sweep YAML behaves the
same offline as under a real agent. One difference: ``${interpreter}`` is this
Python (``sys.executable``), not whatever ``python`` is first on PATH.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import signal
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sslexp.runs.protocol import (GROUP_ENV, KEEP_COMPILED_ENV, OUTPUT_DIR_ENV, RUN_NAME_ENV,
                                  WANDB_MODE_ENV)
from sslexp.runs.record import LOG_FILE
from sslexp.sweep.processes import pass_signal
from sslexp.sweep.worker import WorkerGone, WorkerProcess
from sslexp.sweep.spec import to_engine_config

ARGS_JSON_FILE = "args.json"
# A worker keeps this many compiled models for its next runs (sslexp.training.runtime).
KEPT_COMPILED_MODELS = 2

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


def run_environment(
    base_env: Mapping[str, str],
    *,
    sweep_name: str,
    run_dir: Path,
    run_name: str,
    wandb_mode: str,
    cuda_visible_devices: str | None,
) -> dict[str, str]:
    """The run's environment: W&B offline by default, grouped by sweep, writing into its run dir."""
    env = dict(base_env)
    env.update(
        {
            "WANDB_MODE": wandb_mode,
            WANDB_MODE_ENV: wandb_mode,
            "WANDB_RUN_GROUP": sweep_name,
            GROUP_ENV: sweep_name,
            OUTPUT_DIR_ENV: str(run_dir),
            RUN_NAME_ENV: run_name,
            "WANDB_DIR": str(run_dir),
            # Runs sharing a GPU must not each reserve all of its memory at start.
            "TF_FORCE_GPU_ALLOW_GROWTH": "true",
            "XLA_PYTHON_CLIENT_PREALLOCATE": "false",  # the same for JAX
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
    """One run to execute: the sweep parameters and where its files go."""

    run_id: str
    name: str
    config: dict[str, Any]
    run_dir: Path
    cuda_visible_devices: str | None = None


class SubprocessExecutor:
    """Each run as its own process, running the YAML's command as ``wandb agent`` would,
    its output appended to the run's log."""

    def __init__(self, spec, *, base_env: Mapping[str, str], interpreter: str = sys.executable,
                 working_dir: Path | None = None, wandb_mode: str = "offline"):
        self.spec = spec
        self.base_env = base_env
        self.interpreter = interpreter
        self.working_dir = working_dir
        self.wandb_mode = wandb_mode
        self._processes: dict[str, subprocess.Popen] = {}
        self._stop_signal: int | None = None
        self._guard = threading.Lock()

    def command(self, request: RunRequest) -> tuple[list[str], dict[str, str]]:
        """The run's argv and environment."""
        args_json_file = (request.run_dir / ARGS_JSON_FILE
                          if uses_args_json_file(self.spec.command) else None)
        argv = build_command(self.spec.command, request.config, program=self.spec.program,
                             interpreter=self.interpreter, args_json_file=args_json_file)
        if args_json_file is not None:
            args_json_file.write_text(json.dumps(request.config))
        env = run_environment(self.base_env, sweep_name=self.spec.name, run_dir=request.run_dir,
                              run_name=request.name, wandb_mode=self.wandb_mode,
                              cuda_visible_devices=request.cuda_visible_devices)
        return argv, env

    def run(self, request: RunRequest, on_start: Callable[[int], None]) -> int:
        """Run to the end and return the exit status (negative: killed by that signal)."""
        request.run_dir.mkdir(parents=True, exist_ok=True)
        argv, env = self.command(request)
        with open(request.run_dir / LOG_FILE, "ab") as log:
            log.write(f"$ {describe_command(argv)}\n".encode())
            log.flush()
            try:
                process = subprocess.Popen(
                    argv, env=env, cwd=self.working_dir, stdin=subprocess.DEVNULL, stdout=log,
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
                return process.wait()
            finally:
                with self._guard:
                    self._processes.pop(request.run_id, None)

    def stop(self, signum: int, forceful: bool) -> None:
        """Pass ``signum`` to every running run (kill their process groups when forceful)."""
        with self._guard:
            self._stop_signal = signum
            processes = list(self._processes.values())
        pass_signal(processes, signum, forceful)

    def close(self) -> None:
        """Nothing outlives a run here."""


class PersistentExecutor:
    """Runs of ``sslexp train`` in long-lived worker processes, one per sweep worker thread
    (``sslexp.sweep.worker``): imports are paid once per worker, not once per run.

    Any other command runs as its own process (``SubprocessExecutor``). A run
    whose worker dies is reported with the worker's exit status (negative:
    killed by that signal), as its own process would have been; a run that fails,
    or whose worker does not clean up within ``ready_timeout_s``, retires its
    worker, and the next run starts a fresh one.
    """

    def __init__(self, spec, *, base_env: Mapping[str, str], interpreter: str = sys.executable,
                 working_dir: Path | None = None, wandb_mode: str = "offline",
                 ready_timeout_s: float = 120.0):
        self.subprocesses = SubprocessExecutor(spec, base_env=base_env, interpreter=interpreter,
                                               working_dir=working_dir, wandb_mode=wandb_mode)
        self.interpreter = interpreter
        self.working_dir = working_dir
        self.ready_timeout_s = ready_timeout_s
        self._workers: dict[int, WorkerProcess] = {}  # by the sweep thread using it
        self._busy: set[WorkerProcess] = set()
        self._stop_signal: int | None = None
        self._guard = threading.Lock()

    def run(self, request: RunRequest, on_start: Callable[[int], None]) -> int:
        """Run to the end and return the exit status (negative: killed by that signal)."""
        request.run_dir.mkdir(parents=True, exist_ok=True)
        argv, env = self.subprocesses.command(request)
        command = in_process_command(argv, self.interpreter)
        if command is None:
            return self.subprocesses.run(request, on_start)
        arguments, sys_argv = command
        env = {KEEP_COMPILED_ENV: str(KEPT_COMPILED_MODELS), **env}
        log = request.run_dir / LOG_FILE
        with open(log, "ab") as handle:
            handle.write(f"$ {describe_command(argv)}\n".encode())
        worker = self._worker_for(env)
        try:
            worker.start(arguments, sys_argv, env, self.working_dir, log)
        except WorkerGone:  # it died since its last run: one fresh try
            self._retire(worker)
            worker = self._worker_for(env)
            worker.start(arguments, sys_argv, env, self.working_dir, log)
        with self._guard:
            self._busy.add(worker)
            late_stop = self._stop_signal
        if late_stop is not None:  # the stop came while this run was starting
            worker.process.send_signal(late_stop)
        on_start(worker.pid)
        try:
            status, died = worker.wait_for_end()
        finally:
            with self._guard:
                self._busy.discard(worker)
        if died:
            _note(log, f"the worker process running this run ended ({_describe_exit(status)})")
            self._retire(worker)
        elif not worker.wait_until_ready(self.ready_timeout_s):
            _note(log, f"the worker process did not clean up within {self.ready_timeout_s:g} s "
                       "after this run; it was replaced")
            self._retire(worker, kill=True)
        elif status != 0:
            self._retire(worker)  # nothing a failed run left behind can reach later runs
        return status

    def _worker_for(self, env: Mapping[str, str]) -> WorkerProcess:
        """This thread's worker, started with the run's environment if there is none (or it
        is gone, or it sees other GPUs)."""
        thread = threading.get_ident()
        with self._guard:
            worker = self._workers.get(thread)
        devices = env.get("CUDA_VISIBLE_DEVICES")
        if worker is not None and (not worker.alive() or worker.devices != devices):
            self._retire(worker)
            worker = None
        if worker is None:
            worker = WorkerProcess(self.interpreter, env, self.working_dir)
            with self._guard:
                self._workers[thread] = worker
        return worker

    def _retire(self, worker: WorkerProcess, kill: bool = False) -> None:
        with self._guard:
            for thread, known in list(self._workers.items()):
                if known is worker:
                    del self._workers[thread]
        if kill:
            worker.kill()
        worker.close()

    def stop(self, signum: int, forceful: bool) -> None:
        """Pass ``signum`` to every running run (kill their process groups when forceful)."""
        self.subprocesses.stop(signum, forceful)
        with self._guard:
            self._stop_signal = signum
            busy = [worker.process for worker in self._busy]
        pass_signal(busy, signum, forceful)

    def close(self) -> None:
        """Let every idle worker exit."""
        with self._guard:
            workers = list(self._workers.values())
            self._workers.clear()
        for worker in workers:
            worker.close()


def _note(log: Path, line: str) -> None:
    with open(log, "ab") as handle:
        handle.write(f"sslexp sweep: {line}\n".encode())


def _describe_exit(status: int) -> str:
    if status >= 0:
        return f"exit status {status}"
    try:
        return f"killed by {signal.Signals(-status).name}"
    except ValueError:
        return f"killed by signal {-status}"
