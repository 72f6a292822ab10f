"""Runs that die by a signal (out-of-memory killer, kill -9, a crash): interrupted, redone by
a plain rerun, and given up after the ledger's limit, saying so."""

from __future__ import annotations

import signal
import subprocess
import sys

import psutil
import pytest
from click.testing import CliRunner

from sslexp.cli import main
from tests.faults.helpers import run_sweep_process, wait_for


def invoke_sweep(sweep_file, sweep_dir, *options):
    return CliRunner().invoke(
        main,
        [
            "sweep",
            "local",
            str(sweep_file),
            "--dir",
            str(sweep_dir),
            "--wandb-mode",
            "disabled",
            *options,
        ],
    )


def entry_of(ledger: dict, a: int) -> dict:
    (entry,) = [e for e in ledger["runs"].values() if e["config"]["a"] == a]
    return entry


def test_a_run_killed_by_sigkill_is_redone_by_a_plain_rerun_until_the_limit(
    standin, ledger_of, tmp_path, monkeypatch
):
    sweep_file = standin.make_sweep(parameters={"a": {"values": [1, 2]}})
    sweep_dir = tmp_path / "sweep"
    for name, value in standin.env(STANDIN_KILL_SELF="2").items():
        monkeypatch.setenv(name, value)

    first = invoke_sweep(sweep_file, sweep_dir, "--max-kills", "2")
    killed = entry_of(ledger_of(sweep_dir), 2)
    assert first.exit_code == 1, first.output
    assert killed["state"] == "interrupted" and killed["exit_code"] == -signal.SIGKILL
    assert "killed by SIGKILL" in killed["error"] and killed["kills"] == 1
    assert "run the same command again" in first.output.lower()

    second = invoke_sweep(sweep_file, sweep_dir)  # a plain rerun; the limit stays in the ledger
    killed = entry_of(ledger_of(sweep_dir), 2)
    assert second.exit_code == 1, second.output
    assert killed["state"] == "failed" and killed["attempts"] == 2 and killed["kills"] == 2
    assert "not run again" in killed["error"] and "not run again" in second.output
    assert ledger_of(sweep_dir)["max_kills"] == 2

    third = invoke_sweep(sweep_file, sweep_dir)
    assert entry_of(ledger_of(sweep_dir), 2)["attempts"] == 2, "run again past its limit"
    assert entry_of(ledger_of(sweep_dir), 1)["attempts"] == 1
    assert third.exit_code == 1


@pytest.mark.slow
def test_a_run_that_kills_its_worker_every_time_stops_after_the_limit(standin, ledger_of, tmp_path):
    sweep_file = standin.make_sweep(parameters={"a": {"values": [1, 2, 3]}})
    sweep_dir = tmp_path / "sweep"
    env = standin.env(STANDIN_KILL_WORKER="2")

    def killed_sweep(*options):
        code = run_sweep_process(sweep_file, sweep_dir, env, *options).returncode
        # The run kills itself just after its sweep; on a loaded machine the next sweep could
        # otherwise find it still alive, stop it, and rightly not count it as killed.
        run = ((entry_of(ledger_of(sweep_dir), 2).get("worker") or {}).get("run")) or {}
        wait_for(lambda: not psutil.pid_exists(run.get("pid", -1)), 30, "the run to die")
        return code

    codes = [killed_sweep("--max-kills", "2") for _ in range(2)]
    assert codes == [-signal.SIGKILL] * 2  # the run took its sweep down each time
    last = run_sweep_process(sweep_file, sweep_dir, env)
    ledger = ledger_of(sweep_dir)
    culprit = entry_of(ledger, 2)
    assert culprit["state"] == "failed" and culprit["kills"] == 2, culprit
    assert "not run again" in last.stdout
    assert {entry_of(ledger, a)["state"] for a in (1, 3)} == {"finished"}
    assert last.returncode == 1


def test_a_run_that_finished_after_its_sweep_died_is_kept(standin, ledger_of, tmp_path):
    from sslexp.runs.record import write_json_atomic
    from sslexp.sweep import processes
    from sslexp.sweep.runner import LocalSweep, LocalSweepOptions
    from sslexp.sweep.spec import load_sweep

    sweep_file = standin.make_sweep(parameters={"a": {"values": [1, 2]}})
    sweep_dir = tmp_path / "sweep"
    options = LocalSweepOptions(sweep_dir=sweep_dir, base_env=standin.env())
    LocalSweep(load_sweep(sweep_file), options).run()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    dead = processes.identify_process(gone.pid)
    gone.wait()
    ledger = ledger_of(sweep_dir)
    entry = entry_of(ledger, 2)
    entry.update(
        state="running", exit_code=None, worker={**entry["worker"], **dead, "run": dead}
    )  # as if killed with the run
    write_json_atomic(sweep_dir / "ledger.json", ledger)

    ledger = LocalSweep(load_sweep(sweep_file), options).run()
    assert entry_of(ledger, 2)["state"] == "finished" and entry_of(ledger, 2)["kills"] == 0
    assert len(standin.starts()) == 2, "a finished run was run again"
