"""The in-process agent's pieces: a run's arguments and place as the command-line agent
gives them, its output captured, and a stop that records the run as interrupted."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from sslexp.runs.lifecycle import recorded
from sslexp.runs.record import Record, read_record
from sslexp.sweep.agent_pool import AgentState
from sslexp.sweep.agent_worker import (InProcessAgent, captured_output, read_parameters,
                                       run_arguments, run_location)
from sslexp.sweep.executor import build_command


def test_a_runs_arguments_are_those_wandb_agent_gives_args(tmp_path):
    parameters = {"label_fraction": 0.05, "method": "ssl", "fold": 0, "pretrained": "auto",
                  "lr": 0.003}
    expanded = build_command(["${args}"], parameters)  # how ${args} expands for every run
    assert run_arguments(parameters) == expanded == [
        "--label_fraction=0.05", "--method=ssl", "--fold=0", "--pretrained=auto", "--lr=0.003"]
    path = tmp_path / "config-run1.yaml"
    path.write_text("wandb_version: 1\nmethod:\n  value: ssl\nfold:\n  value: 2\n")
    assert read_parameters(str(path)) == {"method": "ssl", "fold": 2}


def test_a_run_goes_where_sslexp_train_puts_it_under_an_agent(monkeypatch):
    monkeypatch.setenv("WANDB_SWEEP_ID", "swp1")
    parameters = {"method": "scratch", "label_fraction": 0.2, "fold": 1}
    assert run_location(parameters, "abc123") == (
        "scratch-p0.2-fold1", Path("runs/scratch-p0.2-fold1-abc123"))
    assert run_location({"label_fraction": 7}, "abc123") == ("abc123", Path("runs/abc123"))


def test_everything_the_run_writes_goes_to_its_log(tmp_path):
    log = tmp_path / "run" / "output.log"
    with captured_output(log):  # file descriptors 1 and 2, as TensorFlow's C++ writes
        os.write(1, b"on stdout\n")
        os.write(2, b"on stderr\n")
    assert log.read_text() == "on stdout\non stderr\n"


def test_a_stop_interrupts_the_running_run_which_records_it(tmp_path):
    agent = InProcessAgent("swp1", AgentState(tmp_path / "state.json"))
    started = threading.Event()

    def run():
        with recorded(tmp_path / "run", Record(kind="train"), resume=False):
            with agent._guard:
                agent._run_thread = threading.current_thread()
            started.set()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                time.sleep(0.01)

    def runner():
        try:
            run()
        except KeyboardInterrupt:
            pass

    thread = threading.Thread(target=runner)
    thread.start()
    assert started.wait(10)
    agent.stop()
    thread.join(10)
    assert not thread.is_alive() and agent.stopping.is_set()
    record = read_record(tmp_path / "run")
    assert record.state == "interrupted" and "stop signal" in record.error["message"]
