"""One agent of a W&B sweep: ``wandb.agent`` hands this process runs, and each runs as
``sslexp train`` with the run's parameters through the same executor as a local
sweep's runs (``sslexp.sweep.executor``): by default in a long-lived worker process
that keeps its imports and compiled steps from run to run, with ``--isolate`` as a
process of its own.

Started by ``sslexp.sweep.agent_pool`` (``python -m sslexp.sweep.agent``). For each
run ``wandb.agent`` sets ``WANDB_RUN_ID``, ``WANDB_SWEEP_ID``,
``WANDB_SWEEP_PARAM_PATH``, ``WANDB_PROJECT``, ``WANDB_ENTITY`` and ``WANDB_DIR`` in
this process and calls ``Agent.run_one``; the run executes with that environment,
which is what the ``wandb agent`` command line gives the processes it starts, so
``wandb.init`` in the run joins the run W&B handed out. The parameters are passed
as ``wandb agent`` expands ``${args}``, so a run's name, directory and record are
those the command-line agent would give it; its output goes to its run
directory's output.log. The agent process itself imports neither TensorFlow nor
Keras.

Stopping a run: SIGTERM, SIGINT or SIGHUP to this process is passed to the running
run (which records itself as interrupted) and ends the agent; a stop from the W&B
server (``wandb.agent`` raises an exception in the run's thread) sends the run
SIGTERM, as the command-line agent does. ``end_state`` decides how each run ended.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from pathlib import Path

from sslexp.runs.lifecycle import STOPPED_FROM_WANDB, STOPPED_MESSAGE
from sslexp.runs.protocol import OUTPUT_DIR_ENV, RESUME_ENV, RUN_NAME_ENV, STOPPED_FROM_WANDB_FILE
from sslexp.runs.record import LOG_FILE, Record, now, read_record, write_json_atomic, write_record
from sslexp.sweep.executor import (
    PARENT_ONLY_ENV,
    SHARED_GPU_ENV,
    Executor,
    RunRequest,
    build_command,
    make_executor,
)
from sslexp.sweep.ledger import Outcome, classify, last_line

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
# Set per run by a local sweep; inherited from a launcher they would send every run to one place.
LAUNCHER_ONLY_ENV = (OUTPUT_DIR_ENV, RUN_NAME_ENV, RESUME_ENV)
TRAIN_COMMAND = ["${env}", "${interpreter}", "-m", "sslexp", "train", "${args}"]


class AgentState:
    """The state file one agent process writes and the pool reads (whole, atomically)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.data = {"pid": os.getpid(), "started": 0, "current": None, "ended": []}

    def begin(self, run_id: str, name: str, run_dir: Path) -> None:
        self.data["started"] += 1
        self.data["current"] = {
            "run_id": run_id,
            "name": name,
            "run_dir": str(run_dir),
            "started_at": time.time(),
        }
        write_json_atomic(self.path, self.data)

    def give_up(self, reason: str) -> None:
        """The wandb agent stopped asking for runs on its own rule; the pool's summary says so."""
        self.data["gave_up"] = reason
        write_json_atomic(self.path, self.data)

    def end(self, run_id: str, state: str, error: str | None = None) -> None:
        current = self.data["current"] or {"run_id": run_id}
        self.data["ended"].append(
            {**current, "state": state, "error": error, "ended_at": time.time()}
        )
        self.data["current"] = None
        write_json_atomic(self.path, self.data)

    @staticmethod
    def read(path: Path) -> dict:
        import json

        try:
            return json.loads(Path(path).read_text())
        except (OSError, ValueError):
            return {"started": 0, "current": None, "ended": []}


def read_parameters(path: str) -> dict:
    """The run's parameters from the file ``wandb.agent`` writes: ``{name: value}``."""
    from wandb.sdk.lib import config_util

    loaded = config_util.dict_from_config_file(path) or {}
    return {
        name: item.get("value") if isinstance(item, dict) else item
        for name, item in loaded.items()
        if name != "wandb_version"
    }


def run_location(
    parameters: dict, run_id: str, environ: Mapping[str, str] = os.environ
) -> tuple[str, Path]:
    """The name and directory `sslexp train` will use for these parameters, in the
    environment ``wandb.agent`` gives the run."""
    from sslexp.config import TrainConfig
    from sslexp.runs.lifecycle import run_location as train_location

    try:
        config = TrainConfig.from_flat(parameters)
    except ValueError:  # `sslexp train` will say what is wrong; keep its output anyway
        return run_id, Path("runs") / run_id
    output_dir = parameters.get("output_dir")
    return train_location(
        config,
        parameters.get("run_name"),
        Path(output_dir) if output_dir else None,
        environ={**environ, "WANDB_RUN_ID": run_id},
    )


def agent_request(parameters: dict, run_id: str, environ: Mapping[str, str]) -> RunRequest:
    """The run ``wandb.agent`` handed out, as the command-line agent would start it:
    ``sslexp train ${args}`` in the agent's environment (its W&B variables included)."""
    name, run_dir = run_location(parameters, run_id, environ)
    env = {
        key: value
        for key, value in environ.items()
        if key not in LAUNCHER_ONLY_ENV and key not in PARENT_ONLY_ENV
    }
    return RunRequest(
        run_id,
        name,
        Path.cwd() / run_dir,
        build_command(TRAIN_COMMAND, parameters),
        {**env, **SHARED_GPU_ENV},
    )


def record_lost_run(run_dir: Path, name: str | None, reason: str, state: str = "failed") -> Record:
    """A run that could not record its own end (its process was killed, or wedged) ends as
    ``state`` in its results.json, with the reason."""
    record = read_record(run_dir) or Record(kind="train", name=name)  # none: state running
    if record.state == "running":
        record.state = state
        record.error = {"type": "RunProcessLost", "message": reason, "traceback": None}
        record.finished_at = now()
        write_record(run_dir, record)
    return record


def end_state(request: RunRequest, status: int, stopped_by: str | None) -> Outcome:
    """How a run ended, from its exit status and its record (as a local sweep reads them,
    ``sslexp.sweep.ledger.classify``); a record the run could not finish is completed.

    A run that ``stopped_by`` (``"the agent"``: a signal to the agent process;
    ``"W&B"``: the server said stop) stopped and that did not finish was
    interrupted. One killed otherwise (the out-of-memory killer, wedged) failed:
    W&B hands a grid point out once, so nothing would redo it.
    """
    record = read_record(request.run_dir)
    outcome = classify(status, record, last_line(request.run_dir / LOG_FILE))
    if stopped_by is not None and outcome.state != "finished":
        outcome = Outcome("interrupted", f"stopped by {stopped_by} ({outcome.error})")
    elif outcome.killed:
        outcome = Outcome("failed", outcome.error)
    if record is None or record.state == "running":
        record = record_lost_run(request.run_dir, request.name, outcome.error or "", outcome.state)
    if stopped_by == "W&B" and record.state == "interrupted":  # its point is open for fill
        record.error = {"type": STOPPED_FROM_WANDB, "message": STOPPED_MESSAGE, "traceback": None}
        write_record(request.run_dir, record)
    return outcome


class Agent:
    """``wandb.agent`` feeding runs to an executor, one at a time."""

    def __init__(
        self,
        sweep_id: str,
        executor: Executor,
        state: AgentState,
        count: int | None = None,
        project: str | None = None,
        entity: str | None = None,
    ):
        self.sweep_id, self.executor, self.state, self.count = sweep_id, executor, state, count
        self.project, self.entity = project, entity
        self.stopping = threading.Event()
        self.busy = threading.Event()  # set from a run's start to the end of its bookkeeping
        self.error: BaseException | None = None
        self._signals = 0

    def run_agent(self) -> None:
        import wandb

        try:
            wandb.agent(
                self.sweep_id,
                function=self.run_one,
                count=self.count,
                project=self.project,
                entity=self.entity,
            )
        except BaseException as error:  # reported by main(); the thread ends either way
            self.error = error
            traceback.print_exc()

    def run_one(self) -> None:
        """One run of the sweep (``wandb.agent`` calls this in its own thread, with the
        run's W&B variables set in ``os.environ``)."""
        self.busy.set()
        try:
            self._run_one()
        finally:
            self.busy.clear()

    def _run_one(self) -> None:
        if self.stopping.is_set():
            raise RuntimeError("the agent is stopping; this run was not started")
        run_id = os.environ["WANDB_RUN_ID"]
        parameters = read_parameters(os.environ["WANDB_SWEEP_PARAM_PATH"])
        request = agent_request(parameters, run_id, dict(os.environ))
        self.state.begin(run_id, request.name, request.run_dir)
        ended: dict[str, int] = {}
        runner = threading.Thread(
            target=lambda: ended.update(status=self.executor.run(request, lambda pid: None)),
            name=f"run-{run_id}",
        )
        runner.start()
        stopped_by = None
        while runner.is_alive():
            try:
                runner.join(timeout=0.2)
            except Exception:  # how wandb.agent stops a run: an exception in this thread
                stopped_by = "W&B"
                (request.run_dir / STOPPED_FROM_WANDB_FILE).touch()
                self.executor.interrupt(signal.SIGTERM)  # this run; the agent goes on
        if stopped_by is None and self.stopping.is_set():
            stopped_by = "the agent"
        outcome = end_state(request, ended.get("status", 1), stopped_by)
        self.state.end(run_id, outcome.state, outcome.error)
        if outcome.state != "finished":
            raise RuntimeError(
                f"{request.name} {outcome.state}: {outcome.error}; see {request.run_dir / LOG_FILE}"
            )

    def stop(self, signum: int) -> None:
        """Start no new run; pass ``signum`` to the running one (a second stop kills it)."""
        self._signals += 1
        self.stopping.set()
        self.executor.stop(signum, forceful=self._signals > 1)


def gave_up_reason(
    ended: list[dict], started_at: float, environ: Mapping[str, str] = os.environ
) -> str | None:
    """Why ``wandb.agent`` stopped asking for runs, when its own rule stopped it: a third
    failed run within its first 60 s (``wandb.agents.pyagent.Agent``'s constants)."""
    from wandb.agents.pyagent import Agent as WandbAgent

    if environ.get("WANDB_AGENT_DISABLE_FLAPPING") == "true":
        return None
    early = [
        run
        for run in ended
        if run.get("state") == "failed"
        and run.get("ended_at", started_at) - started_at < WandbAgent.FLAPPING_MAX_SECONDS
    ]
    if len(early) < WandbAgent.FLAPPING_MAX_FAILURES:
        return None
    return (
        f"the wandb agent gave up: {len(early)} runs failed within its first "
        f"{WandbAgent.FLAPPING_MAX_SECONDS} s (wandb's rule against a broken setup; see the "
        f"runs' output.log, fix the cause and start the agents again; "
        f"WANDB_AGENT_DISABLE_FLAPPING=true turns the rule off)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sslexp.sweep.agent", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("sweep_id")
    parser.add_argument("--state", required=True, type=Path)
    parser.add_argument("--count", type=int, default=None)
    parser.add_argument("--project", default=None)
    parser.add_argument("--entity", default=None)
    parser.add_argument("--isolate", action="store_true")
    parser.add_argument("--run-timeout", type=float, default=None)
    options = parser.parse_args(argv)
    for name in LAUNCHER_ONLY_ENV:
        os.environ.pop(name, None)
    executor = make_executor(options.isolate, run_timeout_s=options.run_timeout)
    agent = Agent(
        options.sweep_id,
        executor,
        AgentState(options.state),
        options.count,
        options.project,
        options.entity,
    )
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda received, frame: agent.stop(received))
    # wandb.agent runs in a helper thread, so that signals reach this one, not the agent.
    thread = threading.Thread(target=agent.run_agent, name="wandb-agent", daemon=True)
    started_at = time.time()
    thread.start()
    while thread.is_alive():
        thread.join(timeout=0.2)
        if agent.stopping.is_set() and not agent.busy.is_set():
            break
    executor.close()
    reason = (
        None if agent.stopping.is_set() else gave_up_reason(agent.state.data["ended"], started_at)
    )
    if reason:
        agent.state.give_up(reason)
        print(reason, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    return 1 if agent.error is not None or reason else 0


if __name__ == "__main__":
    os._exit(main())
