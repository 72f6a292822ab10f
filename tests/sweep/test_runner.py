"""Local sweeps with a stand-in training script: workers, caps, failures, stops."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections import Counter

import pytest

from sslexp.sweep.runner import LocalSweep, LocalSweepOptions, worker_slots
from sslexp.sweep.spec import load_sweep

GRID = [(("a", a), ("b", b)) for a in ("1", "2", "3") for b in ("x", "y")]


def run_sweep(standin, sweep_file, sweep_dir, **options):
    env = standin.env(**options.pop("env", {}))
    runner = LocalSweep(
        load_sweep(sweep_file), LocalSweepOptions(sweep_dir=sweep_dir, base_env=env, **options)
    )
    return runner, runner.run()


@pytest.mark.slow
def test_two_workers_run_every_grid_point_once_and_in_parallel(standin, tmp_path):
    sweep_dir = tmp_path / "sweep"
    _, ledger = run_sweep(
        standin, standin.make_sweep(), sweep_dir, workers=2, env={"STANDIN_SLEEP": "0.4"}
    )

    assert sorted(standin.started_configs()) == sorted(GRID)
    assert {entry["state"] for entry in ledger["runs"].values()} == {"finished"}
    spans = sorted((r["time"], r["pid"]) for r in standin.records())
    ends = {r["pid"]: r["time"] for r in standin.records() if r["event"] == "end"}
    starts = {r["pid"]: r["time"] for r in standin.starts()}
    overlapping = any(
        starts[p] < ends[q] and starts[q] < ends[p] for p in starts for q in starts if p < q
    )
    assert overlapping, f"the two workers never ran at the same time: {spans}"
    assert len({entry["worker"]["name"] for entry in ledger["runs"].values()}) == 2


def test_each_run_gets_the_agent_environment_and_its_own_directory(standin, tmp_path):
    sweep_dir = tmp_path / "sweep"
    _, ledger = run_sweep(
        standin, standin.make_sweep(parameters={"a": {"values": [1, 2]}}), sweep_dir
    )

    assert json.loads((sweep_dir / "ledger.json").read_text())["sweep"] == "tiny"
    assert (sweep_dir / "sweep.yaml").read_text() == (tmp_path / "tiny.yaml").read_text()
    by_output_dir = {record["env"]["SSLEXP_OUTPUT_DIR"]: record for record in standin.starts()}
    assert sorted(entry["name"] for entry in ledger["runs"].values()) == ["a-1", "a-2"]
    for entry in ledger["runs"].values():
        run_dir = sweep_dir / "runs" / entry["name"]
        assert entry["run_dir"] == f"runs/{entry['name']}"
        env = by_output_dir[str(run_dir)]["env"]
        assert env["SSLEXP_RUN_NAME"] == entry["name"]
        assert env["WANDB_DIR"] == str(run_dir)
        assert env["WANDB_MODE"] == env["SSLEXP_WANDB_MODE"] == "offline"
        assert env["SSLEXP_GROUP"] == env["WANDB_RUN_GROUP"] == "tiny"
        assert env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
        assert entry["results_file"] == f"runs/{entry['name']}/results.json"
        assert json.loads((sweep_dir / entry["results_file"]).read_text())["state"] == "finished"
        assert entry["exit_code"] == 0 and entry["attempts"] == 1 and entry["error"] is None
        assert entry["started_at"] <= entry["finished_at"]
        assert (run_dir / "output.log").exists()


def test_gpus_give_each_worker_its_own_device(standin, tmp_path):
    _, ledger = run_sweep(
        standin,
        standin.make_sweep(),
        tmp_path / "sweep",
        gpus=("0", "1"),
        env={"STANDIN_SLEEP": "0.3"},
    )
    seen = {record["env"]["CUDA_VISIBLE_DEVICES"] for record in standin.starts()}
    assert seen == {"0", "1"}
    for entry in ledger["runs"].values():
        worker_gpu = {"worker-0": "0", "worker-1": "1"}[entry["worker"]["name"]]
        assert entry["cuda_visible_devices"] == worker_gpu


def test_worker_slots_share_gpus_in_turn():
    assert [s.cuda_visible_devices for s in worker_slots(None, ("0", "1"))] == ["0", "1"]
    assert [s.cuda_visible_devices for s in worker_slots(4, ("0", "1"))] == ["0", "1", "0", "1"]
    assert [s.cuda_visible_devices for s in worker_slots(None, ())] == [None]
    with pytest.raises(ValueError, match="at least 1"):
        worker_slots(0, ())


def test_run_cap_stops_the_sweep_and_stays_honoured_on_resume(standin, tmp_path):
    sweep_file = standin.make_sweep(run_cap=4)
    _, ledger = run_sweep(standin, sweep_file, tmp_path / "sweep", workers=2)
    assert len(ledger["runs"]) == 4
    _, ledger = run_sweep(standin, sweep_file, tmp_path / "sweep", workers=2)
    assert len(ledger["runs"]) == 4
    assert len(standin.starts()) == 4


def test_count_limits_the_runs_of_one_invocation(standin, tmp_path):
    sweep_file = standin.make_sweep()
    _, ledger = run_sweep(standin, sweep_file, tmp_path / "sweep", count=2)
    assert len(ledger["runs"]) == 2
    _, ledger = run_sweep(standin, sweep_file, tmp_path / "sweep", count=10)
    assert len(ledger["runs"]) == 6
    assert sorted(standin.started_configs()) == sorted(GRID)


def test_failed_runs_run_again_only_when_asked(standin, tmp_path):
    sweep_file = standin.make_sweep()
    sweep_dir = tmp_path / "sweep"
    _, ledger = run_sweep(standin, sweep_file, sweep_dir, env={"STANDIN_FAIL": "2"})
    failed = {run_id: e for run_id, e in ledger["runs"].items() if e["state"] == "failed"}
    assert {e["config"]["a"] for e in failed.values()} == {2} and len(failed) == 2
    assert all(
        e["exit_code"] == 3 and "stand-in failure for a=2" in e["error"] for e in failed.values()
    )

    run_sweep(standin, sweep_file, sweep_dir)
    assert len(standin.starts()) == 6, "a failed run ran again without --retry-failed"

    _, ledger = run_sweep(standin, sweep_file, sweep_dir, retry_failed=True)
    assert len(standin.starts()) == 8
    assert {e["state"] for e in ledger["runs"].values()} == {"finished"}
    for run_id, entry in failed.items():
        assert ledger["runs"][run_id]["attempts"] == 2
        assert not (sweep_dir / entry["run_dir"] / "partial.txt").exists()
        assert (sweep_dir / "partial" / entry["name"] / "attempt-1" / "partial.txt").exists()


def test_a_run_failing_again_is_tried_once_per_invocation(standin, tmp_path):
    sweep_file = standin.make_sweep(parameters={"a": {"values": [2]}})
    run_sweep(standin, sweep_file, tmp_path / "sweep", env={"STANDIN_FAIL": "2"})
    _, ledger = run_sweep(
        standin, sweep_file, tmp_path / "sweep", retry_failed=True, env={"STANDIN_FAIL": "2"}
    )
    assert len(standin.starts()) == 2
    assert [e["state"] for e in ledger["runs"].values()] == ["failed"]


@pytest.mark.slow
@pytest.mark.parametrize("exit_on_signal", ["", "1"], ids=["killed-by-signal", "exits-1-on-signal"])
def test_a_stop_request_interrupts_running_runs_and_a_rerun_finishes_them(
    standin, tmp_path, exit_on_signal
):
    sweep_file = standin.make_sweep()
    sweep_dir = tmp_path / "sweep"
    env = standin.env(STANDIN_SLEEP="30", STANDIN_EXIT_ON_SIGNAL=exit_on_signal)
    runner = LocalSweep(
        load_sweep(sweep_file), LocalSweepOptions(sweep_dir=sweep_dir, workers=2, base_env=env)
    )
    threading.Timer(2.0, runner.request_stop).start()
    ledger = runner.run()
    states = Counter(entry["state"] for entry in ledger["runs"].values())
    assert runner.stopped and states == {"interrupted": 2}

    _, ledger = run_sweep(standin, sweep_file, sweep_dir, workers=2)
    assert {entry["state"] for entry in ledger["runs"].values()} == {"finished"}
    assert len(ledger["runs"]) == 6
    assert sorted(e["attempts"] for e in ledger["runs"].values()) == [1, 1, 1, 1, 2, 2]


def test_a_directory_of_another_sweep_is_refused(standin, tmp_path):
    run_sweep(standin, standin.make_sweep(), tmp_path / "sweep")
    changed = standin.make_sweep(parameters={"a": {"values": [7]}})
    with pytest.raises(ValueError, match="holds a different sweep"):
        run_sweep(standin, changed, tmp_path / "sweep")


def test_an_open_ended_search_needs_a_limit(standin, tmp_path):
    sweep_file = standin.make_sweep()
    spec = load_sweep(sweep_file)
    random_spec = dataclasses.replace(
        spec, engine_config={**spec.engine_config, "method": "random"}
    )
    with pytest.raises(ValueError, match="run_cap .* or pass --count"):
        LocalSweep(random_spec, LocalSweepOptions(sweep_dir=tmp_path / "sweep"))
