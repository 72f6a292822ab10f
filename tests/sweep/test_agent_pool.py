"""The agent pool: agent processes that crash or wedge during a run are replaced and the run
recorded as failed (with stand-in agent processes), and the sbatch script of --slurm."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from sslexp.cli import main
from sslexp.runs.record import read_record
from sslexp.sweep.agent_pool import AgentPool, PoolOptions, describe_slots

# An agent process: attempt N of its slot does what STANDIN_PLAN's N-th word says, in
# a run of its own: crash (SIGKILL itself), hang, or finish.
STANDIN_AGENT = r'''
import json, os, signal, sys, time
from pathlib import Path
from sslexp.sweep.agent_pool import AgentState

state_path, count = Path(sys.argv[1]), sys.argv[2]
work = Path(os.environ["STANDIN_DIR"])
attempt = len(list(work.glob("attempt-*")))
(work / f"attempt-{attempt}").write_text(count)
plan = os.environ["STANDIN_PLAN"].split(",")[attempt]
run_dir = work / "runs" / f"run{attempt}"
run_dir.mkdir(parents=True)
(run_dir / "results.json").write_text(json.dumps({"kind": "train", "state": "running"}))
state = AgentState(state_path)
state.begin(f"id{attempt}", f"run{attempt}", run_dir)
if plan == "crash":
    os.kill(os.getpid(), signal.SIGKILL)
if plan == "hang":
    time.sleep(600)
(run_dir / "results.json").write_text(json.dumps({"kind": "train", "state": "finished"}))
state.end(f"id{attempt}", "finished")
'''


def run_pool(tmp_path, plan: str, **options):
    script = tmp_path / "standin_agent.py"
    script.write_text(STANDIN_AGENT)
    lines = []
    pool = AgentPool(
        PoolOptions("team/sslexp/swp", ("0",), logs_dir=tmp_path / "logs", stagger_s=0,
                    **options),
        base_env={**__import__("os").environ, "STANDIN_DIR": str(tmp_path),
                  "STANDIN_PLAN": plan},
        echo=lines.append,
        command=lambda options, slot, count: [sys.executable, str(script),
                                              str(slot.state_path), str(count)])
    slots = pool.run()
    return slots, lines


def test_a_run_whose_process_dies_is_recorded_failed_and_the_process_replaced(tmp_path):
    (slot,), lines = run_pool(tmp_path, "crash,finish", count=2)
    crashed = read_record(tmp_path / "runs" / "run0")
    assert crashed.state == "failed" and crashed.error["type"] == "AgentProcessLost"
    assert "killed by SIGKILL" in crashed.error["message"]
    assert read_record(tmp_path / "runs" / "run1").state == "finished"
    assert (tmp_path / "attempt-1").read_text() == "1"  # the replacement runs what is left
    assert slot.lost == ["id0"] and slot.exit_code == 0
    assert "agent 0 (GPU 0): starting a new agent process in its place" in lines
    assert describe_slots([slot]) == [
        "agent 0 (GPU 0): 1 finished, 1 lost; exit status 0, 1 process(es) replaced"]


def test_a_wedged_run_is_stopped_after_the_run_timeout(tmp_path):
    (slot,), lines = run_pool(tmp_path, "hang,finish", count=2, run_timeout_s=1.0)
    wedged = read_record(tmp_path / "runs" / "run0")
    assert wedged.state == "failed" and "--run-timeout 1 s" in wedged.error["message"]
    assert read_record(tmp_path / "runs" / "run1").state == "finished"
    assert any("run0 (W&B run id0) started" in line for line in lines)


def test_a_slot_that_keeps_losing_runs_is_given_up(tmp_path):
    (slot,), lines = run_pool(tmp_path, "crash,crash,crash,crash,finish")
    assert len(slot.lost) == 4 and not (tmp_path / "runs" / "run4").exists()
    assert any("not replacing it again" in line for line in lines)


def test_slurm_writes_an_sbatch_script_starting_the_agents_on_every_node(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, [
        "sweep", "agents", "team/sslexp/abc123", "--gpus", "0,1,2,3", "--per-gpu", "2",
        "--count", "5", "--slurm", "agents.sbatch", "--nodes", "3", "--time", "12:00:00",
        "--sbatch=--partition=gpu"])
    assert result.exit_code == 0, result.output
    assert "sbatch agents.sbatch" in result.output
    script = (tmp_path / "agents.sbatch").read_text()
    for line in ("#SBATCH --nodes=3", "#SBATCH --ntasks-per-node=1",
                 "#SBATCH --gpus-per-node=4", "#SBATCH --time=12:00:00",
                 "#SBATCH --partition=gpu", f"cd {tmp_path}"):
        assert line in script.splitlines()
    (srun,) = [line for line in script.splitlines() if line.startswith("srun")]
    assert f"{sys.executable} -m sslexp sweep agents team/sslexp/abc123" in srun
    assert "--per-gpu=2" in srun and "--count=5" in srun and "--slurm" not in srun
    assert '--gpus "${CUDA_VISIBLE_DEVICES:-0,1,2,3}"' in srun
    assert subprocess.run(["bash", "-n", "agents.sbatch"]).returncode == 0


def test_isolated_agents_share_gpus_as_asked(tmp_path):
    from sslexp.sweep.online import agent_specs

    specs = agent_specs("swp", ("0", "1"), "/bin/wandb", {"PATH": "/usr/bin"}, per_gpu=2,
                        group="g")
    assert [spec.gpu for spec in specs] == ["0", "0", "1", "1"]
    assert all(spec.env["SSLEXP_GROUP"] == "g" for spec in specs)


def test_the_state_file_round_trips(tmp_path):
    from sslexp.sweep.agent_pool import AgentState

    state = AgentState(tmp_path / "state.json")
    state.begin("id1", "ssl-p0.1-fold0", Path("runs/x"))
    assert AgentState.read(tmp_path / "state.json")["current"]["name"] == "ssl-p0.1-fold0"
    state.end("id1", "finished")
    data = json.loads((tmp_path / "state.json").read_text())
    assert data["current"] is None and data["ended"][0]["state"] == "finished"
    assert data["started"] == 1
