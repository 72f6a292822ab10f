"""Run a sweep offline: worker threads that each claim a run and execute it.

Each worker loops: lock the ledger, ask the engine for the next run given every
run in the ledger (or pick an interrupted run to redo), mark it running, unlock,
run the YAML's command as a subprocess, record the outcome. The lock makes
claims atomic across threads and across ``sslexp sweep local`` processes
sharing the directory, so no grid point ever runs twice at once.

Resuming is running the same command again: finished runs are skipped;
interrupted runs (state ``interrupted``, or ``running``/``pending`` with a dead
worker, or ``finished`` without a finished results.json) run again after their
partial files are moved to ``partial/<run_id>/attempt-N``; failed runs run
again only with ``retry_failed``. Each run is attempted at most once per
invocation, so a run that keeps failing cannot loop.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sslexp.sweep import liveness
from sslexp.sweep.command import build_command, describe_command, run_environment, uses_args_json_file
from sslexp.sweep.config import SweepSpec
from sslexp.sweep.engine import metric_from_results, propose_next_run, to_sweep_run
from sslexp.sweep.ledger import RESULTS_NAME, Ledger, new_entry, new_run_id, utc_now
from sslexp.sweep.outcome import Outcome, classify, last_line, read_results, results_state
from sslexp.sweep.signals import pass_signal

LOG_NAME = "output.log"
ARGS_JSON_NAME = "args.json"
SWEEP_COPY_NAME = "sweep.yaml"


@dataclass(frozen=True)
class WorkerSlot:
    """One worker: its name and the GPUs its runs see (None: inherit)."""

    name: str
    cuda_visible_devices: str | None


@dataclass(frozen=True)
class LocalSweepOptions:
    sweep_dir: Path
    workers: int | None = None  # None: one per GPU, or 1
    gpus: tuple[str, ...] = ()
    count: int | None = None
    retry_failed: bool = False
    wandb_mode: str = "offline"
    base_env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    interpreter: str = sys.executable
    working_dir: Path | None = None


@dataclass(frozen=True)
class Claim:
    run_id: str
    config: dict[str, Any]
    attempt: int
    slot: WorkerSlot


def worker_slots(workers: int | None, gpus: tuple[str, ...]) -> list[WorkerSlot]:
    """One worker per GPU by default; with more workers than GPUs they share them in turn."""
    if workers is not None and workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}.")
    if not gpus:
        return [WorkerSlot(f"worker-{index}", None) for index in range(workers or 1)]
    total = workers or len(gpus)
    return [WorkerSlot(f"worker-{index}", gpus[index % len(gpus)]) for index in range(total)]


def prepare_sweep_dir(spec: SweepSpec, sweep_dir: Path) -> Ledger:
    """Create (or reopen) the sweep directory; refuse one that holds another sweep."""
    sweep_dir.mkdir(parents=True, exist_ok=True)
    copy = sweep_dir / SWEEP_COPY_NAME
    if copy.exists():
        existing = yaml.safe_load(copy.read_text())
        if existing != spec.raw:
            raise ValueError(
                f"{sweep_dir} holds a different sweep ({copy} differs from {spec.path}). "
                "Pass another --dir for a new sweep, or restore the YAML to resume this one."
            )
    else:
        shutil.copyfile(spec.path, copy)
    ledger = Ledger(sweep_dir)
    ledger.initialise(spec.name)
    recorded = ledger.read().get("sweep")
    if recorded != spec.name:
        raise ValueError(f"{ledger.path} belongs to sweep {recorded!r}, not {spec.name!r}. Pass another --dir.")
    return ledger


def mark_stale_runs(ledger: Ledger, data: dict[str, Any], check_results: bool) -> list[str]:
    """Mark runs interrupted whose worker is gone (stopping any run process it left).

    With ``check_results``, finished runs whose results.json is missing or not
    finished are marked interrupted too. Returns the ids marked.
    """
    marked = []
    for run_id, entry in data["runs"].items():
        state = entry["state"]
        worker = entry.get("worker") or {}
        if state in ("running", "pending") and not liveness.is_alive(worker):
            liveness.terminate(worker.get("run"))
            entry["state"] = "interrupted"
            entry["error"] = f"the worker process ({worker.get('name', 'unknown')}) stopped before the run ended"
            marked.append(run_id)
        elif state == "finished" and check_results:
            results = read_results(ledger.sweep_dir / (entry.get("results_file") or f"runs/{run_id}/{RESULTS_NAME}"))
            if results_state(results) != "finished":
                entry["state"] = "interrupted"
                entry["error"] = f"results.json is missing or says {results_state(results)!r}, not 'finished'"
                marked.append(run_id)
    return marked


class LocalSweep:
    """Workers executing one sweep directory; ``run()`` returns when no work is left."""

    def __init__(
        self,
        spec: SweepSpec,
        options: LocalSweepOptions,
        on_run_end: Callable[[str, dict[str, Any]], None] | None = None,
    ):
        if spec.method != "grid" and spec.run_cap is None and options.count is None:
            raise ValueError(
                f"{spec.path}: a {spec.method} search never runs out of configurations. "
                "Set run_cap in the YAML or pass --count."
            )
        self.spec = spec
        self.options = options
        self.slots = worker_slots(options.workers, options.gpus)
        self.ledger = prepare_sweep_dir(spec, Path(options.sweep_dir).resolve())
        self._on_run_end = on_run_end or (lambda run_id, entry: None)
        self._stop = threading.Event()
        self._stop_requests = 0
        self._stop_signal: int = signal.SIGTERM
        self._guard = threading.Lock()
        self._attempted: set[str] = set()
        self._started = 0
        self._processes: dict[str, subprocess.Popen] = {}
        self._worker_errors: list[BaseException] = []
        self._identity = liveness.identify_process(os.getpid())
        with self.ledger.transaction() as data:
            mark_stale_runs(self.ledger, data, check_results=True)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def run(self) -> dict[str, Any]:
        """Run workers until the sweep is done, the count is reached or a stop is requested."""
        threads = [
            threading.Thread(target=self._worker_loop, args=(slot,), name=slot.name, daemon=True)
            for slot in self.slots
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(timeout=0.2)
        if self._worker_errors:
            raise self._worker_errors[0]
        return self.ledger.read()

    def request_stop(self, signum: int = signal.SIGTERM) -> None:
        """Start no new runs; pass the signal on to running ones (a second request kills them)."""
        with self._guard:
            self._stop_requests += 1
            self._stop_signal = signum
            self._stop.set()
            processes = list(self._processes.values())
            forceful = self._stop_requests > 1
        pass_signal(processes, signum, forceful)

    def _worker_loop(self, slot: WorkerSlot) -> None:
        try:
            while not self._stop.is_set():
                claim = self._claim(slot)
                if claim is None:
                    return
                exit_code = self._execute(claim)
                entry = self._record(claim, exit_code)
                self._on_run_end(claim.run_id, entry)
        except BaseException as error:  # surfaced by run() once the other workers stop
            with self._guard:
                self._worker_errors.append(error)
            self.request_stop()

    def _claim(self, slot: WorkerSlot) -> Claim | None:
        with self.ledger.transaction() as data:
            with self._guard:
                if self._stop.is_set():
                    return None
                if self.options.count is not None and self._started >= self.options.count:
                    return None
                mark_stale_runs(self.ledger, data, check_results=False)
                run_id = self._run_to_redo(data) or self._new_run(data)
                if run_id is None:
                    return None
                entry = data["runs"][run_id]
                if entry["attempts"]:
                    self._set_aside(run_id, entry["attempts"])
                entry.update(
                    state="running",
                    attempts=entry["attempts"] + 1,
                    exit_code=None,
                    error=None,
                    results_file=f"runs/{run_id}/{RESULTS_NAME}",
                    wandb_dir=f"runs/{run_id}",
                    cuda_visible_devices=slot.cuda_visible_devices,
                    worker={"name": slot.name, **self._identity, "run": None},
                    started_at=utc_now(),
                    finished_at=None,
                )
                self._attempted.add(run_id)
                self._started += 1
                return Claim(run_id, dict(entry["config"]), entry["attempts"], slot)

    def _run_to_redo(self, data: dict[str, Any]) -> str | None:
        redo_states = {"interrupted", "pending"} | ({"failed"} if self.options.retry_failed else set())
        for run_id, entry in data["runs"].items():
            if run_id not in self._attempted and entry["state"] in redo_states:
                return run_id
        return None

    def _new_run(self, data: dict[str, Any]) -> str | None:
        runs = data["runs"]
        if self.spec.run_cap is not None and len(runs) >= self.spec.run_cap:
            return None
        engine_runs = [to_sweep_run(entry, self._summary_metrics(entry)) for entry in runs.values()]
        proposal = propose_next_run(self.spec.engine_config, engine_runs)
        if proposal is None:
            return None
        run_id = new_run_id(runs)
        runs[run_id] = new_entry(proposal)
        return run_id

    def _summary_metrics(self, entry: dict[str, Any]) -> dict[str, Any]:
        """The sweep metric of a finished run, which bayes search learns from."""
        metric = self.spec.metric_name
        if self.spec.method == "grid" or not metric or entry["state"] != "finished":
            return {}
        value = metric_from_results(read_results(self.ledger.sweep_dir / entry["results_file"]), metric)
        return {} if value is None else {metric: value}

    def _set_aside(self, run_id: str, attempt: int) -> None:
        """Move an earlier attempt's files out of runs/, so nothing reads them as results."""
        run_dir = self.ledger.run_dir(run_id)
        if run_dir.exists():
            target = self.ledger.partial_dir(run_id, attempt)
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                shutil.rmtree(target)
            os.replace(run_dir, target)

    def _execute(self, claim: Claim) -> int:
        run_dir = self.ledger.run_dir(claim.run_id)
        run_dir.mkdir(parents=True, exist_ok=True)
        args_json_file = run_dir / ARGS_JSON_NAME if uses_args_json_file(self.spec.command) else None
        argv = build_command(
            self.spec.command,
            claim.config,
            program=self.spec.program,
            interpreter=self.options.interpreter,
            args_json_file=args_json_file,
        )
        if args_json_file is not None:
            args_json_file.write_text(json.dumps(claim.config))
        env = run_environment(
            self.options.base_env,
            sweep_name=self.spec.name,
            run_dir=run_dir,
            wandb_mode=self.options.wandb_mode,
            cuda_visible_devices=claim.slot.cuda_visible_devices,
        )
        with open(run_dir / LOG_NAME, "ab") as log:
            log.write(f"$ {describe_command(argv)}\n".encode())
            log.flush()
            try:
                process = subprocess.Popen(
                    argv,
                    env=env,
                    cwd=self.options.working_dir,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # signals reach it only through request_stop
                )
            except OSError as error:
                log.write(f"cannot start the command: {error}\n".encode())
                return 127
            with self._guard:
                self._processes[claim.run_id] = process
                late_stop = self._stop_signal if self._stop.is_set() else None
            if late_stop is not None:  # the stop came while this run was starting
                process.send_signal(late_stop)
            self._note_run_process(claim, process.pid)
            try:
                return process.wait()
            finally:
                with self._guard:
                    self._processes.pop(claim.run_id, None)

    def _note_run_process(self, claim: Claim, pid: int) -> None:
        identity = liveness.identify_process(pid)
        if identity is None:  # the run already exited: nothing to record
            return
        with self.ledger.transaction() as data:
            entry = data["runs"][claim.run_id]
            if entry["attempts"] == claim.attempt and entry.get("worker"):
                entry["worker"]["run"] = identity

    def _record(self, claim: Claim, exit_code: int) -> dict[str, Any]:
        run_dir = self.ledger.run_dir(claim.run_id)
        outcome = classify(exit_code, read_results(run_dir / RESULTS_NAME), last_line(run_dir / LOG_NAME))
        if self._stop.is_set() and outcome.state == "failed":
            # The sweep passed a stop signal on: however the run exited, it was interrupted.
            outcome = Outcome("interrupted", f"stopped by the sweep ({outcome.error})")
        with self.ledger.transaction() as data:
            entry = data["runs"][claim.run_id]
            if entry["attempts"] == claim.attempt:
                entry.update(state=outcome.state, exit_code=exit_code, error=outcome.error, finished_at=utc_now())
            return dict(entry)
