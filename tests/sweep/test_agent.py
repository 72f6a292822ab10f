"""One online agent's pieces: a run as the command-line agent would start it, its end
state, and a stop from W&B reaching the run as a signal."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

from sslexp.runs.lifecycle import recorded
from sslexp.runs.record import Record, read_record, write_record
from sslexp.sweep.agent import (Agent, AgentState, agent_request, end_state, read_parameters,
                                run_location)
from sslexp.sweep.executor import RunRequest, in_process_command


def test_a_run_is_sslexp_train_with_the_arguments_wandb_agent_gives_args(tmp_path,
                                                                         monkeypatch):
    monkeypatch.chdir(tmp_path)
    parameters = {"label_fraction": 0.05, "method": "ssl", "fold": 0, "pretrained": "auto",
                  "lr": 0.003}
    request = agent_request(parameters, "abc123", {"PATH": "/bin"})
    arguments, _ = in_process_command(request.argv, sys.executable)  # runs in the worker
    assert arguments == ["train", "--label_fraction=0.05", "--method=ssl", "--fold=0",
                         "--pretrained=auto", "--lr=0.003"]
    path = tmp_path / "config-run1.yaml"
    path.write_text("wandb_version: 1\nmethod:\n  value: ssl\nfold:\n  value: 2\n")
    assert read_parameters(str(path)) == {"method": "ssl", "fold": 2}


def test_a_run_keeps_the_agents_wandb_variables_but_not_a_launchers_output_dir(tmp_path,
                                                                               monkeypatch):
    monkeypatch.chdir(tmp_path)
    environ = {"WANDB_RUN_ID": "abc123", "WANDB_SWEEP_ID": "swp1", "WANDB_PROJECT": "p",
               "WANDB_SWEEP_PARAM_PATH": "/x.yaml", "SSLEXP_OUTPUT_DIR": "/elsewhere",
               "CUDA_VISIBLE_DEVICES": "1"}
    request = agent_request({"method": "scratch", "label_fraction": 0.2, "fold": 1}, "abc123",
                            environ)
    assert {key: request.env.get(key) for key in environ} == {
        **environ, "SSLEXP_OUTPUT_DIR": None}
    assert request.env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
    assert request.run_dir == tmp_path / "runs" / "scratch-p0.2-fold1-abc123"


def test_a_run_goes_where_sslexp_train_puts_it_under_an_agent(monkeypatch):
    monkeypatch.setenv("WANDB_SWEEP_ID", "swp1")
    parameters = {"method": "scratch", "label_fraction": 0.2, "fold": 1}
    assert run_location(parameters, "abc123") == (
        "scratch-p0.2-fold1", Path("runs/scratch-p0.2-fold1-abc123"))
    assert run_location({"label_fraction": 7}, "abc123") == ("abc123", Path("runs/abc123"))


def request_in(tmp_path: Path) -> RunRequest:
    return RunRequest("abc123", "scratch-p0.2-fold1", tmp_path / "run", ["true"], {})


def test_a_run_that_could_not_record_its_end_is_completed_as_failed(tmp_path):
    request = request_in(tmp_path)
    write_record(request.run_dir, Record(kind="train", name=request.name))  # state running
    outcome = end_state(request, -signal.SIGKILL, stopped_by=None)
    assert outcome.state == "failed" and "killed by SIGKILL" in outcome.error
    record = read_record(request.run_dir)
    assert record.state == "failed" and "killed by SIGKILL" in record.error["message"]


def test_a_run_the_agent_stopped_is_interrupted_and_a_finished_one_finished(tmp_path):
    request = request_in(tmp_path)
    assert end_state(request, -signal.SIGTERM, "the agent").state == "interrupted"
    assert read_record(request.run_dir).state == "interrupted"
    write_record(request.run_dir, Record(kind="train", name=request.name, state="finished"))
    assert end_state(request, 0, stopped_by=None).state == "finished"


class SignalledRuns:
    """An executor whose runs record themselves as ``sslexp train`` does and end when they
    get a signal, as the run in a worker does."""

    def __init__(self):
        self.started = threading.Event()
        self.signals: list[int] = []
        self._stopped = threading.Event()

    def run(self, request, on_start):
        try:
            with recorded(request.run_dir, Record(kind="train", name=request.name),
                          resume=False):
                self.started.set()
                if self._stopped.wait(30):
                    raise KeyboardInterrupt  # what the run's signal handler raises
        except KeyboardInterrupt:
            return -signal.SIGTERM
        return 0

    def stop(self, signum, forceful):
        self.signals.append(signum)
        self._stopped.set()

    def interrupt(self, signum):
        self.stop(signum, forceful=False)

    def close(self):
        pass


def test_a_stop_from_wandb_reaches_the_run_as_sigterm_and_it_ends_interrupted(tmp_path,
                                                                             monkeypatch):
    from wandb.agents.pyagent import _terminate_thread

    monkeypatch.chdir(tmp_path)
    parameters = tmp_path / "config-abc123.yaml"
    parameters.write_text("method:\n  value: scratch\nlabel_fraction:\n  value: 0.2\n")
    monkeypatch.setenv("WANDB_RUN_ID", "abc123")
    monkeypatch.setenv("WANDB_SWEEP_PARAM_PATH", str(parameters))
    runs = SignalledRuns()
    agent = Agent("swp1", runs, AgentState(tmp_path / "state.json"))
    errors = []

    def wandb_run_thread():
        try:
            agent.run_one()
        except RuntimeError as error:  # what wandb.agent counts as a failed run
            errors.append(str(error))

    thread = threading.Thread(target=wandb_run_thread)
    thread.start()
    assert runs.started.wait(30)
    _terminate_thread(thread)  # how wandb.agent stops a run the W&B server says to stop
    thread.join(30)
    assert not thread.is_alive() and runs.signals == [signal.SIGTERM]
    (ended,) = AgentState.read(tmp_path / "state.json")["ended"]
    assert ended["state"] == "interrupted" and ended["error"].startswith("stopped by W&B")
    assert errors and "interrupted" in errors[0]
    assert read_record(Path(ended["run_dir"])).state == "interrupted"
