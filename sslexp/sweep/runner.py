"""Run a sweep offline: worker threads that each claim a run and execute it.

Each worker loops: lock the ledger, ask the engine for the next run given every
run in the ledger (or pick an interrupted run to redo), mark it running, unlock,
execute the YAML's command, record the outcome. The lock makes
claims atomic across threads and across ``sslexp sweep local`` processes
sharing the directory, so no grid point ever runs twice at once.

Resuming is running the same command again: finished runs are skipped;
interrupted runs (state ``interrupted``, or ``running``/``pending`` with a dead
worker, or ``finished`` without a finished record) run again after their
partial files are moved to ``partial/<name>/attempt-N``; failed runs run again
only with ``retry_failed``. Each run is attempted at most once per invocation,
so a run that keeps failing cannot loop, and a run whose process keeps dying
by a signal (taking its worker along or not) is failed after the ledger's
``max_kills`` deaths. A run left behind by a dead worker that finished on its
own is kept. How a run is executed is the executor's business
(``sslexp.sweep.executor``: the same executors online agents use).
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sslexp.runs.record import LOG_FILE, RESULTS_FILE, now, read_record
from sslexp.sweep import processes
from sslexp.sweep.executor import RunRequest, make_executor, sweep_run_request
from sslexp.sweep.gpus import gpu_slots
from sslexp.sweep.ledger import (
    DEFAULT_MAX_KILLS,
    RUNS_DIR,
    SWEEP_COPY,
    Ledger,
    Outcome,
    classify,
    count_kill,
    last_line,
    new_entry,
    new_run_id,
    readable_name,
    run_state,
    unique_name,
)
from sslexp.sweep.spec import (
    SweepSpec,
    grid_parameters,
    metric_from_results,
    propose_next_run,
    to_sweep_run,
)


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
    max_kills: int | None = None  # None: the ledger's limit (DEFAULT_MAX_KILLS when new)
    wandb_mode: str = "offline"
    base_env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    interpreter: str = sys.executable
    working_dir: Path | None = None
    isolate: bool = False  # one process per run instead of long-lived workers
    per_gpu: int | None = None  # workers sharing each GPU in --gpus
    run_timeout_s: float | None = None  # a run still going after this long is killed (wedged)


@dataclass(frozen=True)
class Claim:
    run_id: str
    name: str
    config: dict[str, Any]
    run_dir: Path
    attempt: int
    slot: WorkerSlot


def worker_slots(
    workers: int | None, gpus: tuple[str, ...], per_gpu: int | None = None
) -> list[WorkerSlot]:
    """One worker per GPU by default (``per_gpu`` each with it), dealt as online agents are
    (``gpu_slots``)."""
    return [
        WorkerSlot(f"worker-{index}", gpu)
        for index, gpu in enumerate(gpu_slots(gpus, per_gpu, workers))
    ]


def prepare_sweep_dir(spec: SweepSpec, sweep_dir: Path) -> Ledger:
    """Create (or reopen) the sweep directory; refuse one that holds another sweep."""
    sweep_dir.mkdir(parents=True, exist_ok=True)
    copy = sweep_dir / SWEEP_COPY
    if copy.exists():
        existing = yaml.safe_load(copy.read_text(encoding="utf-8", errors="replace"))
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
        raise ValueError(
            f"{ledger.path} belongs to sweep {recorded!r}, not {spec.name!r}. Pass another --dir."
        )
    return ledger


def mark_stale_runs(ledger: Ledger, data: dict[str, Any], check_results: bool) -> list[str]:
    """Settle the runs whose worker is gone; returns the ids changed.

    A run process the dead worker left behind is stopped and its run is
    interrupted; one that finished on its own is kept as finished; one that
    died too counts as killed (``count_kill``). With ``check_results``,
    finished runs whose record is missing, unreadable or not finished are
    marked interrupted too (``run_state``).
    """
    marked = []
    for run_id, entry in data["runs"].items():
        state = entry["state"]
        worker = entry.get("worker") or {}
        if state in ("running", "pending") and not processes.is_alive(worker):
            _settle_orphan(ledger, data, entry, worker)
            marked.append(run_id)
        elif state == "finished" and check_results:
            if run_state(entry, ledger.record_of(entry, complete=True)) != "finished":
                entry["state"] = "interrupted"
                entry["error"] = f"its {RESULTS_FILE} is missing, unreadable or not finished"
                marked.append(run_id)
    return marked


def _settle_orphan(
    ledger: Ledger, data: dict[str, Any], entry: dict[str, Any], worker: dict[str, Any]
) -> None:
    run_process = worker.get("run")
    stopped = processes.terminate(run_process)  # the worker died, the run did not: stop it
    record = ledger.record_of(entry) if entry.get("run_dir") else None
    if record is not None and record.is_finished:  # it got to the end all the same
        entry.update(
            state="finished",
            error=None,
            finished_at=record.finished_at,
            wandb_id=(record.wandb or {}).get("run_id"),
        )
    elif not stopped and run_process is not None and (record is None or record.state == "running"):
        count_kill(
            entry,
            data.get("max_kills", DEFAULT_MAX_KILLS),
            f"the run's process and its worker ({worker.get('name', 'unknown')}) "
            "died before the run ended",
        )
    else:
        entry["state"] = "interrupted"
        entry["error"] = (
            f"the worker process ({worker.get('name', 'unknown')}) stopped before the run ended"
        )


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
        self.slots = worker_slots(options.workers, options.gpus, options.per_gpu)
        self.ledger = prepare_sweep_dir(spec, Path(options.sweep_dir).resolve())
        self._on_run_end = on_run_end or (lambda run_id, entry: None)
        self._stop = threading.Event()
        self._stop_requests = 0
        self._guard = threading.Lock()
        self._attempted: set[str] = set()
        self._started = 0
        self._worker_errors: list[BaseException] = []
        self._identity = processes.identify_process(os.getpid())
        self._varying = list(grid_parameters(spec.raw))
        self.executor = make_executor(
            options.isolate,
            interpreter=options.interpreter,
            working_dir=options.working_dir,
            run_timeout_s=options.run_timeout_s,
        )
        with self.ledger.transaction() as data:
            self.ledger.check_grid(data, spec.raw.get("parameters"))
            if options.max_kills is not None:
                data["max_kills"] = options.max_kills
            data.setdefault("max_kills", DEFAULT_MAX_KILLS)
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
        try:
            for thread in threads:
                while thread.is_alive():
                    thread.join(timeout=0.2)
        finally:
            self.executor.close()
        if self._worker_errors:
            raise self._worker_errors[0]
        return self.ledger.read()

    def request_stop(self, signum: int = signal.SIGTERM) -> None:
        """Start no new runs; pass the signal on to running ones (a second request kills them)."""
        with self._guard:
            self._stop_requests += 1
            self._stop.set()
            forceful = self._stop_requests > 1
        self.executor.stop(signum, forceful)

    def _worker_loop(self, slot: WorkerSlot) -> None:
        try:
            while not self._stop.is_set():
                claim = self._claim(slot)
                if claim is None:
                    return
                exit_code = self.executor.run(
                    self._request(claim),
                    lambda pid, claim=claim: self._note_run_process(claim, pid),
                )
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
                if not entry.get("name"):
                    name = readable_name(entry["config"], self._varying)
                    entry["name"] = unique_name(name, run_id, data["runs"])
                entry["run_dir"] = f"{RUNS_DIR}/{entry['name']}"
                if entry["attempts"]:
                    self._set_aside(entry, entry["attempts"])
                entry.update(
                    state="running",
                    attempts=entry["attempts"] + 1,
                    exit_code=None,
                    error=None,
                    results_file=f"{entry['run_dir']}/{RESULTS_FILE}",
                    wandb_dir=entry["run_dir"],
                    cuda_visible_devices=slot.cuda_visible_devices,
                    worker={"name": slot.name, **self._identity, "run": None},
                    started_at=now(),
                    finished_at=None,
                )
                self._attempted.add(run_id)
                self._started += 1
                return Claim(
                    run_id,
                    entry["name"],
                    dict(entry["config"]),
                    self.ledger.run_dir(entry),
                    entry["attempts"],
                    slot,
                )

    def _request(self, claim: Claim) -> RunRequest:
        """The claimed run's command line and environment (built outside the ledger's lock)."""
        return sweep_run_request(
            self.spec,
            claim.run_id,
            claim.name,
            claim.config,
            claim.run_dir,
            base_env=self.options.base_env,
            wandb_mode=self.options.wandb_mode,
            cuda_visible_devices=claim.slot.cuda_visible_devices,
            interpreter=self.options.interpreter,
        )

    def _run_to_redo(self, data: dict[str, Any]) -> str | None:
        redo_states = {"interrupted", "pending"} | (
            {"failed"} if self.options.retry_failed else set()
        )
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
        record = self.ledger.record_of(entry)
        value = metric_from_results(record.to_json() if record else None, metric)
        return {} if value is None else {metric: value}

    def _set_aside(self, entry: dict[str, Any], attempt: int) -> None:
        """Move an earlier attempt's files out of runs/, so nothing reads them as results."""
        run_dir = self.ledger.run_dir(entry)
        if run_dir.exists():
            target = self.ledger.partial_dir(entry, attempt)
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                shutil.rmtree(target)
            os.replace(run_dir, target)

    def _note_run_process(self, claim: Claim, pid: int) -> None:
        identity = processes.identify_process(pid)
        if identity is None:  # the run already exited: nothing to record
            return
        with self.ledger.transaction() as data:
            entry = data["runs"][claim.run_id]
            if entry["attempts"] == claim.attempt and entry.get("worker"):
                entry["worker"]["run"] = identity

    def _record(self, claim: Claim, exit_code: int) -> dict[str, Any]:
        run_dir = claim.run_dir
        record = read_record(run_dir)
        outcome = classify(exit_code, record, last_line(run_dir / LOG_FILE))
        if self._stop.is_set() and outcome.state == "failed":
            # The sweep passed a stop signal on: however the run exited, it was interrupted.
            outcome = Outcome("interrupted", f"stopped by the sweep ({outcome.error})")
        with self.ledger.transaction() as data:
            entry = data["runs"][claim.run_id]
            if entry["attempts"] == claim.attempt:
                entry.update(
                    state=outcome.state,
                    exit_code=exit_code,
                    error=outcome.error,
                    finished_at=now(),
                    wandb_id=((record.wandb or {}).get("run_id") if record else None),
                )
                if outcome.killed and not self._stop.is_set():
                    count_kill(entry, data.get("max_kills", DEFAULT_MAX_KILLS), outcome.error)
            return dict(entry)
