"""Damaged files: a data cache entry, a ledger, a run's record. Nothing is read as what it
is not; what can be rebuilt is, and what cannot says how to recover."""

from __future__ import annotations

import csv
import json
import shutil

import pytest
from click.testing import CliRunner

from sslexp.cli import main
from tests.report import sweep_factory


def invoke(*args):
    return CliRunner().invoke(main, [str(arg) for arg in args])


def test_a_truncated_data_cache_is_rebuilt_by_the_next_command(tmp_path):
    prepare = ["datasets", "--prepare", "digits", "--image-size", "8", "--cache-dir", tmp_path]
    assert invoke(*prepare).exit_code == 0
    (entry,) = tmp_path.glob("*.npz")
    entry.write_bytes(entry.read_bytes()[:1000])
    again = invoke(*prepare)
    assert again.exit_code == 0, again.output
    assert [line for line in again.output.splitlines() if line.startswith("warning:")] == [
        f"warning: data cache entry {entry} cannot be loaded (BadZipFile: File is not a zip "
        f"file); moved to {entry.name}.broken and rebuilt."
    ]
    assert invoke(*prepare).output.count("warning") == 0


def sweep_local(sweep_file, sweep_dir, env, *options):
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
        env=env,
    )


@pytest.mark.parametrize("damage", ["[]", "", "half"])
def test_a_malformed_ledger_stops_the_sweep_saying_how_to_recover(
    standin, ledger_of, tmp_path, damage
):
    sweep_file = standin.make_sweep()
    sweep_dir = tmp_path / "sweep"
    env = standin.env()
    assert sweep_local(sweep_file, sweep_dir, env, "--count", "3").exit_code == 0
    ledger = sweep_dir / "ledger.json"
    ledger.write_text(ledger.read_text()[:200] if damage == "half" else damage)

    refused = sweep_local(sweep_file, sweep_dir, env)
    assert refused.exit_code == 2, refused.output
    assert f"cp {sweep_dir / 'ledger.previous.json'} {ledger}" in refused.output
    assert refused.exception is None or isinstance(refused.exception, SystemExit)
    shutil.copyfile(sweep_dir / "ledger.previous.json", ledger)  # what the message says to do
    resumed = sweep_local(sweep_file, sweep_dir, env)
    assert resumed.exit_code == 0, resumed.output
    assert sorted(standin.started_configs()) == sorted(
        (("a", a), ("b", b)) for a in ("1", "2", "3") for b in ("x", "y")
    )
    assert {entry["state"] for entry in ledger_of(sweep_dir)["runs"].values()} == {"finished"}


def test_a_resumed_sweep_runs_again_a_finished_run_whose_record_is_unreadable(
    standin, ledger_of, tmp_path
):
    sweep_file = standin.make_sweep()
    sweep_dir = tmp_path / "sweep"
    assert sweep_local(sweep_file, sweep_dir, standin.env()).exit_code == 0
    runs = ledger_of(sweep_dir)["runs"]
    damaged_id = sorted(runs)[0]
    damaged = sweep_dir / runs[damaged_id]["results_file"]
    damaged.write_text('{"state": "finished", "test": {"accur')
    others = {
        run_id: (sweep_dir / entry["results_file"]).read_bytes()
        for run_id, entry in runs.items()
        if run_id != damaged_id
    }

    assert sweep_local(sweep_file, sweep_dir, standin.env()).exit_code == 0
    runs = ledger_of(sweep_dir)["runs"]
    assert runs[damaged_id]["state"] == "finished" and runs[damaged_id]["attempts"] == 2
    assert len(standin.starts()) == 7
    assert others == {
        run_id: (sweep_dir / runs[run_id]["results_file"]).read_bytes() for run_id in others
    }


@pytest.mark.slow
def test_the_report_counts_an_unreadable_record_as_not_finished(tmp_path):
    sweep_dir = sweep_factory.write_sweep(tmp_path)
    name = sweep_factory.run_id("ssl", 0.1, 0)
    record = sweep_dir / "runs" / name / "results.json"
    ledger = json.loads((sweep_dir / "ledger.json").read_text())
    # A real sweep's ledger holds every sweep parameter of a run, as its record does.
    ledger["runs"][name]["config"] = {
        key: value for key, value in json.loads(record.read_text())["config"].items()
    }
    (sweep_dir / "ledger.json").write_text(json.dumps(ledger))
    record.write_bytes(record.read_bytes()[:100])

    result = invoke("report", sweep_dir, "--pictures", "false")
    assert result.exit_code == 0, result.output
    assert "Sweep demo: 15 finished, 1 failed, 1 interrupted, 1 missing" in result.output
    assert f"interrupted: {name}" in result.output
    with open(sweep_dir / "report" / "runs.csv", newline="") as stream:
        states = {row["run_id"]: row["state"] for row in csv.DictReader(stream)}
    assert states[name] == "interrupted"
    assert "73.00 ± 0.00" in result.output  # ssl at 10% from the two readable folds
