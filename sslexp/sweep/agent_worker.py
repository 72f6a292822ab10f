"""One in-process agent of a W&B sweep: ``wandb.agent`` hands this process runs, and each
runs here as ``sslexp train`` with the run's parameters.

Started by ``sslexp.sweep.agent_pool`` (``python -m sslexp.sweep.agent_worker``).
The parameters are read from the file the agent writes before any
``wandb.init`` and passed exactly as ``wandb agent`` passes the YAML's
``${args}``, so a run's name, directory and record are those the command-line
agent would give it. Each run's output goes to its run directory's output.log,
and Keras state is cleared between runs. SIGTERM, SIGINT or SIGHUP interrupts
the running run (recorded as interrupted) and ends the process; ``wandb.agent``
runs in a helper thread so that the signal reaches this process, not the agent.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

from sslexp.runs.lifecycle import RunInterrupted, stopped_from_wandb
from sslexp.runs.record import LOG_FILE, read_record
from sslexp.sweep.agent_pool import AgentState

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
# Set per run by pyagent; inherited from a launcher they would send every run to one place.
LAUNCHER_ONLY_ENV = ("SSLEXP_OUTPUT_DIR", "SSLEXP_RUN_NAME", "SSLEXP_RESUME")


def read_parameters(path: str) -> dict:
    """The run's parameters from the file ``wandb.agent`` writes: ``{name: value}``."""
    from wandb.sdk.lib import config_util

    loaded = config_util.dict_from_config_file(path) or {}
    return {name: item.get("value") if isinstance(item, dict) else item
            for name, item in loaded.items() if name != "wandb_version"}


def run_arguments(parameters: dict) -> list[str]:
    """``--name=value`` for each parameter, as ``wandb agent`` expands ``${args}``."""
    from wandb.sdk.launch.sweeps import utils

    return utils.create_sweep_command_args(
        {"args": {name: {"value": value} for name, value in parameters.items()}})["args"]


def run_location(parameters: dict, run_id: str) -> tuple[str, Path]:
    """The name and directory `sslexp train` will use for these parameters."""
    from sslexp.runs.lifecycle import run_location as train_location
    from sslexp.config import TrainConfig, build, flat_fields

    names = {name for _, _, _, name in flat_fields(TrainConfig)}
    try:
        config = build(TrainConfig, {k: v for k, v in parameters.items() if k in names})
    except ValueError:  # `sslexp train` will say what is wrong; keep its output anyway
        return run_id, Path("runs") / run_id
    output_dir = parameters.get("output_dir")
    return train_location(config, parameters.get("run_name"),
                          Path(output_dir) if output_dir else None,
                          environ={**os.environ, "WANDB_RUN_ID": run_id})


@contextlib.contextmanager
def captured_output(path: Path):
    """Everything this process writes (Python, TensorFlow's C++ logs) goes to ``path``."""
    from sslexp.sweep.worker import output_to

    path.parent.mkdir(parents=True, exist_ok=True)
    with output_to(str(path)):
        yield


@contextlib.contextmanager
def command_line(argv: list[str]):
    """``sys.argv`` as `python -m sslexp ...` would have it (runs record their command line)."""
    import sslexp

    saved = sys.argv
    sys.argv = [str(Path(sslexp.__file__).parent / "__main__.py"), *argv]
    try:
        yield
    finally:
        sys.argv = saved


class AgentStopped(RunInterrupted):
    """The agent process was asked to stop while this run was running."""

    def __init__(self, *args):
        super().__init__(*(args or ("stopped: the agent process received a stop signal",)))


def clear_keras() -> None:
    """Free the models of the run that ended before the next one builds its own."""
    import keras

    keras.utils.clear_session(free_memory=True)
    gc.collect()


class InProcessAgent:
    def __init__(self, sweep_id: str, state: AgentState, count: int | None = None,
                 project: str | None = None, entity: str | None = None):
        self.sweep_id, self.state, self.count = sweep_id, state, count
        self.project, self.entity = project, entity
        self.stopping = threading.Event()
        self.busy = threading.Event()  # set from a run's start to the end of its bookkeeping
        self.error: BaseException | None = None
        self._guard = threading.Lock()
        self._run_thread: threading.Thread | None = None

    def run_agent(self) -> None:
        import wandb

        try:
            wandb.agent(self.sweep_id, function=self.run_one, count=self.count,
                        project=self.project, entity=self.entity)
        except BaseException as error:  # reported by main(); the thread ends either way
            self.error = error
            traceback.print_exc()

    def run_one(self) -> None:
        """One run of the sweep (``wandb.agent`` calls this in its own thread)."""
        self.busy.set()
        try:
            self._run_one()
        finally:
            self.busy.clear()

    def _run_one(self) -> None:
        if self.stopping.is_set():
            raise RuntimeError("the agent is stopping; this run was not started")
        from sslexp.cli import main

        run_id = os.environ["WANDB_RUN_ID"]
        parameters = read_parameters(os.environ["WANDB_SWEEP_PARAM_PATH"])
        name, run_dir = run_location(parameters, run_id)
        argv = ["train", *run_arguments(parameters)]
        self.state.begin(run_id, name, run_dir)
        status, stopped = 1, False
        try:
            with captured_output(run_dir / LOG_FILE), command_line(argv):
                with self._guard:
                    if self.stopping.is_set():
                        raise AgentStopped()
                    self._run_thread = threading.current_thread()
                try:
                    status = main(args=argv, standalone_mode=False) or 0
                except SystemExit as error:
                    status = error.code if isinstance(error.code, int) else 1
                except Exception as error:
                    stopped = stopped_from_wandb(error)
                    show = getattr(error, "show", None)
                    show() if show else traceback.print_exc()
                    status = getattr(error, "exit_code", 1)
                finally:
                    with self._guard:
                        self._run_thread = None
        finally:
            record = read_record(run_dir)  # none: stopped or failed before it was written
            self.state.end(run_id, record.state if record is not None else (
                "interrupted" if stopped else "failed"))
            clear_keras()
        if status != 0:
            raise RuntimeError(f"sslexp train exited with status {status}; "
                               f"see {run_dir / LOG_FILE}")

    def stop(self) -> None:
        """Start no new run; interrupt the running one where Python next runs."""
        self.stopping.set()
        with self._guard:
            thread = self._run_thread
            if thread is not None and thread.ident is not None:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident),
                                                           ctypes.py_object(AgentStopped))


def gave_up_reason(ended: list[dict], started_at: float,
                   environ=os.environ) -> str | None:
    """Why ``wandb.agent`` stopped asking for runs, when its own rule stopped it: a third
    failed run within its first 60 s (``wandb.agents.pyagent.Agent``'s constants)."""
    from wandb.agents.pyagent import Agent

    if environ.get("WANDB_AGENT_DISABLE_FLAPPING") == "true":
        return None
    early = [run for run in ended if run.get("state") == "failed"
             and run.get("ended_at", started_at) - started_at < Agent.FLAPPING_MAX_SECONDS]
    if len(early) < Agent.FLAPPING_MAX_FAILURES:
        return None
    return (f"the wandb agent gave up: {len(early)} runs failed within its first "
            f"{Agent.FLAPPING_MAX_SECONDS} s (wandb's rule against a broken setup; see the "
            f"runs' output.log, fix the cause and start the agents again; "
            f"WANDB_AGENT_DISABLE_FLAPPING=true turns the rule off)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sslexp.sweep.agent_worker",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep_id")
    parser.add_argument("--state", required=True, type=Path)
    parser.add_argument("--count", type=int, default=None)
    parser.add_argument("--project", default=None)
    parser.add_argument("--entity", default=None)
    options = parser.parse_args(argv)
    for name in LAUNCHER_ONLY_ENV:
        os.environ.pop(name, None)
    agent = InProcessAgent(options.sweep_id, AgentState(options.state), options.count,
                           options.project, options.entity)
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda received, frame: agent.stop())
    import keras  # noqa: F401  (before any run: a stop from W&B must not land in an import)

    thread = threading.Thread(target=agent.run_agent, name="wandb-agent", daemon=True)
    started_at = time.time()
    thread.start()
    while thread.is_alive():
        thread.join(timeout=0.2)
        if agent.stopping.is_set() and not agent.busy.is_set():
            break
    reason = None if agent.stopping.is_set() else gave_up_reason(agent.state.data["ended"],
                                                                 started_at)
    if reason:
        agent.state.give_up(reason)
        print(reason, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    return 1 if agent.error is not None or reason else 0


if __name__ == "__main__":
    os._exit(main())
