"""The agent pool: agent processes started staggered with their GPUs, each run's start and
end reported, a run whose agent process dies recorded as failed (with stand-in agent
processes), and the sbatch script of --slurm."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from sslexp.cli import main
from sslexp.runs.record import read_record
from sslexp.sweep.agent import AgentState
from sslexp.sweep.agent_pool import AgentPool, PoolOptions, agent_command, describe_slots

# An agent process: runs the runs STANDIN_PLAN lists, each finishing, or crashing (SIGKILL to
# itself mid-run); or exits with its GPU as status; or waits for SIGTERM. It writes its GPU,
# group and start time to gpu-<pid>.
STANDIN_AGENT = r"""
import json, os, signal, sys
from pathlib import Path
from sslexp.sweep.agent import AgentState

import time

state_path = Path(sys.argv[1])
work = Path(os.environ["STANDIN_DIR"])
gpu = os.environ.get("CUDA_VISIBLE_DEVICES")
(work / f"gpu-{os.getpid()}").write_text(json.dumps([gpu, os.environ.get("SSLEXP_GROUP"),
                                                     time.time()]))
if os.environ["STANDIN_PLAN"] == "exit-with-gpu":
    sys.exit(int(gpu))
if os.environ["STANDIN_PLAN"] == "wait-for-a-signal":
    def stop(signum, frame):
        (work / f"signal-{os.getpid()}").write_text(str(signum))
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    (work / f"ready-{os.getpid()}").write_text("")
    time.sleep(60)
    sys.exit(9)
state = AgentState(state_path)
for index, plan in enumerate(os.environ["STANDIN_PLAN"].split(",")):
    run_dir = work / "runs" / f"run{index}"
    run_dir.mkdir(parents=True)
    (run_dir / "results.json").write_text(json.dumps({"kind": "train", "state": "running"}))
    state.begin(f"id{index}", f"run{index}", run_dir)
    if plan == "crash":
        os.kill(os.getpid(), signal.SIGKILL)
    (run_dir / "results.json").write_text(json.dumps({"kind": "train", "state": "finished"}))
    state.end(f"id{index}", "finished")
"""


def standin_pool(tmp_path, plan: str, lines: list, **options) -> AgentPool:
    script = tmp_path / "standin_agent.py"
    script.write_text(STANDIN_AGENT)
    return AgentPool(
        PoolOptions(
            "team/sslexp/swp",
            options.pop("gpus", ("0",)),
            logs_dir=tmp_path / "logs",
            **{"stagger_s": 0, **options},
        ),
        base_env={**os.environ, "STANDIN_DIR": str(tmp_path), "STANDIN_PLAN": plan},
        echo=lines.append,
        command=lambda options, slot: [sys.executable, str(script), str(slot.state_path)],
    )


def run_pool(tmp_path, plan: str, **options):
    lines = []
    slots = standin_pool(tmp_path, plan, lines, **options).run()
    return slots, lines


def agents_seen(tmp_path) -> list[list]:
    """[GPU, group, start time] of each agent process, in start order."""
    return sorted(
        (json.loads(path.read_text()) for path in tmp_path.glob("gpu-*")), key=lambda seen: seen[2]
    )


@pytest.mark.slow
def test_each_runs_end_is_reported_and_summed_up(tmp_path):
    (slot,), lines = run_pool(tmp_path, "finish,finish")
    assert lines[0].startswith("agent 0 (GPU 0) started (pid ")
    finished = [line for line in lines if line.endswith(" finished")]
    assert finished == [
        "agent 0 (GPU 0): run0 (W&B run id0) finished",
        "agent 0 (GPU 0): run1 (W&B run id1) finished",
    ]
    assert describe_slots([slot]) == ["agent 0 (GPU 0): 2 finished; exit status 0"]


@pytest.mark.slow
def test_a_run_whose_agent_process_dies_is_recorded_failed(tmp_path):
    (slot,), lines = run_pool(tmp_path, "finish,crash")
    crashed = read_record(tmp_path / "runs" / "run1")
    assert crashed.state == "failed" and crashed.error["type"] == "RunProcessLost"
    assert "killed by SIGKILL" in crashed.error["message"]
    assert read_record(tmp_path / "runs" / "run0").state == "finished"
    assert slot.lost == ["id1"]
    assert describe_slots([slot]) == ["agent 0 (GPU 0): 1 finished, 1 lost; killed by SIGKILL"]


@pytest.mark.slow
def test_agents_are_dealt_gpus_as_local_workers_are(tmp_path):
    slots, _ = run_pool(tmp_path, "finish", gpus=("0", "1"), per_gpu=2, group="g")
    assert [slot.gpu for slot in slots] == ["0", "1", "0", "1"]
    assert sorted(seen[:2] for seen in agents_seen(tmp_path)) == [["0", "g"]] * 2 + [["1", "g"]] * 2


@pytest.mark.slow
def test_agents_start_a_stagger_apart_and_each_exit_status_is_reported(tmp_path):
    slots, _ = run_pool(tmp_path, "exit-with-gpu", gpus=("0", "1"), stagger_s=0.6)
    first, second = agents_seen(tmp_path)
    assert second[2] - first[2] >= 0.5, "agents were not started a stagger apart"
    assert describe_slots(slots) == [
        "agent 0 (GPU 0): no runs; exit status 0",
        "agent 1 (GPU 1): no runs; exit status 1",
    ]


@pytest.mark.slow
def test_a_stop_signal_is_passed_to_every_agent_process(tmp_path):
    lines = []
    pool = standin_pool(tmp_path, "wait-for-a-signal", lines, gpus=("0", "1"))
    thread = threading.Thread(target=pool.run)
    thread.start()
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("ready-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    pool.handle_signal(signal.SIGTERM)
    thread.join(60)
    assert (
        sorted(path.read_text() for path in tmp_path.glob("signal-*"))
        == [str(int(signal.SIGTERM))] * 2
    )
    assert [slot.exit_code for slot in pool.slots] == [0, 0]
    assert "Passing SIGTERM to the agents" in lines[-1]


def test_an_agent_process_runs_the_agent_module_with_the_pools_options(tmp_path):
    options = PoolOptions(
        "team/sslexp/swp",
        ("0",),
        count=2,
        run_timeout_s=60.0,
        isolate=True,
        logs_dir=tmp_path / "logs",
    )
    (slot,) = AgentPool(options, base_env={}, echo=lambda line: None).slots
    argv = agent_command(options, slot)
    assert argv[:4] == [sys.executable, "-m", "sslexp.sweep.agent", "team/sslexp/swp"]
    assert " ".join(argv[4:]) == (
        f"--state {slot.state_path} --count 2 --run-timeout 60.0 --isolate"
    )


def test_slurm_writes_an_sbatch_script_starting_the_agents_on_every_node(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        main,
        [
            "sweep",
            "agents",
            "team/sslexp/abc123",
            "--gpus",
            "0,1,2,3",
            "--per-gpu",
            "2",
            "--count",
            "5",
            "--slurm",
            "agents.sbatch",
            "--nodes",
            "3",
            "--time",
            "12:00:00",
            "--sbatch=--partition=gpu",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "sbatch agents.sbatch" in result.output
    script = (tmp_path / "agents.sbatch").read_text()
    for line in (
        "#SBATCH --nodes=3",
        "#SBATCH --ntasks-per-node=1",
        "#SBATCH --gpus-per-node=4",
        "#SBATCH --time=12:00:00",
        "#SBATCH --partition=gpu",
        f"cd {tmp_path}",
    ):
        assert line in script.splitlines()
    (srun,) = [line for line in script.splitlines() if line.startswith("srun")]
    assert f"{sys.executable} -m sslexp sweep agents team/sslexp/abc123" in srun
    assert "--per-gpu=2" in srun and "--count=5" in srun and "--slurm" not in srun
    assert '--gpus "${CUDA_VISIBLE_DEVICES:-0,1,2,3}"' in srun
    assert subprocess.run(["bash", "-n", "agents.sbatch"]).returncode == 0


def test_the_state_file_round_trips(tmp_path):
    state = AgentState(tmp_path / "state.json")
    state.begin("id1", "ssl-p0.1-fold0", Path("runs/x"))
    assert AgentState.read(tmp_path / "state.json")["current"]["name"] == "ssl-p0.1-fold0"
    state.end("id1", "finished")
    data = json.loads((tmp_path / "state.json").read_text())
    assert data["current"] is None and data["ended"][0]["state"] == "finished"
    assert data["started"] == 1
