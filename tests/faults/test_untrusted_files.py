"""Every file sslexp reads is checked before it is trusted: text that is not UTF-8 is an
input error naming the file, a finished record without its config counts as unreadable
(listed by the report, redone by a resumed sweep), a ledger entry outside the sweep's grid
stops the sweep, and a test accuracy that is not a number is said to be so."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from sslexp.cli import main
from sslexp.report.collect import collect_sweep
from sslexp.sweep.ledger import LEDGER_NAME
from tests.report import sweep_factory

LATIN_1 = "café".encode("latin-1")  # what an editor saving in Latin-1 writes


def invoke(*args, env=None):
    return CliRunner().invoke(main, [str(arg) for arg in args], env=env)


def test_a_config_file_that_is_not_utf8_exits_2_naming_it(tmp_path):
    config = tmp_path / "options.yaml"
    config.write_bytes(b"max_updates: 5\nrun_name: " + LATIN_1 + b"\n")
    result = invoke("train", "--config", config, "--dataset", "digits")
    assert result.exit_code == 2, result.output
    assert f"{config} is not UTF-8 text" in result.output and "save it as UTF-8" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_sweep_yaml_that_is_not_utf8_exits_2_naming_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sweep = tmp_path / "sweep.yaml"
    sweep.write_bytes(b"name: s\nmethod: grid\nparameters:\n  a: {values: [" + LATIN_1 + b"]}\n")
    for command in ("plan", "local"):
        result = invoke("sweep", command, sweep)
        assert result.exit_code == 2, result.output
        assert f"{sweep} is not a valid sweep configuration" in result.output
        assert "not UTF-8 text" in result.output
    assert not (tmp_path / "sweep-runs").exists()


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


def test_a_finished_record_without_its_config_is_redone_by_a_resumed_sweep(
    standin, ledger_of, tmp_path
):
    sweep_file = standin.make_sweep()
    sweep_dir = tmp_path / "sweep"
    assert sweep_local(sweep_file, sweep_dir, standin.env()).exit_code == 0
    runs = ledger_of(sweep_dir)["runs"]
    damaged_id = sorted(runs)[0]
    record_path = sweep_dir / runs[damaged_id]["results_file"]
    record = json.loads(record_path.read_text())
    del record["config"]
    record_path.write_text(json.dumps(record))

    assert sweep_local(sweep_file, sweep_dir, standin.env()).exit_code == 0
    runs = ledger_of(sweep_dir)["runs"]
    assert runs[damaged_id]["attempts"] == 2 and runs[damaged_id]["state"] == "finished"
    assert len(standin.starts()) == 7
    assert "config" in json.loads((sweep_dir / runs[damaged_id]["results_file"]).read_text())


@pytest.mark.slow
def test_the_report_lists_a_finished_record_without_its_config_as_unreadable(tmp_path):
    sweep_dir = sweep_factory.write_sweep(tmp_path)
    name = sweep_factory.run_id("ssl", 0.1, 0)
    record_path = sweep_dir / "runs" / name / "results.json"
    record = json.loads(record_path.read_text())
    ledger = json.loads((sweep_dir / LEDGER_NAME).read_text())
    # A real sweep's ledger holds every sweep parameter of a run, as its record does.
    ledger["runs"][name]["config"] = dict(record.pop("config"))
    (sweep_dir / LEDGER_NAME).write_text(json.dumps(ledger))
    record_path.write_text(json.dumps(record))

    sweep = collect_sweep(sweep_dir)
    (run,) = [run for run in sweep.runs if run.run_id == name]
    assert run.state == "interrupted" and run.record is None
    assert any(name in note and "without config" in note for note in sweep.notes), sweep.notes
    result = invoke("report", sweep_dir, "--pictures", "false")
    assert result.exit_code == 0, result.output  # one experiment: no defaults filled in
    assert f"interrupted: {name}" in result.output


def test_a_nan_test_accuracy_is_reported_as_such(tmp_path):
    sweep_dir = sweep_factory.write_sweep(tmp_path)
    name = sweep_factory.run_id("scratch", 0.1, 1)
    record_path = sweep_dir / "runs" / name / "results.json"
    record_path.write_text(
        record_path.read_text().replace('"accuracy": 0.62', '"accuracy": NaN', 1)
    )
    assert '"accuracy": NaN' in record_path.read_text()

    sweep = collect_sweep(sweep_dir)
    assert any(
        note == f"Run {name}: its test accuracy is NaN, not a number; it is left out of "
        "the comparison."
        for note in sweep.notes
    ), sweep.notes


@pytest.mark.parametrize(
    "edit, problem",
    [
        ({"a": "lots"}, "has a='lots', not one of the sweep's values for a"),
        ({"c": 1}, "has parameter 'c', which the sweep does not"),
    ],
)
def test_a_ledger_entry_outside_the_grid_stops_the_sweep(
    standin, ledger_of, tmp_path, edit, problem
):
    sweep_file = standin.make_sweep()
    sweep_dir = tmp_path / "sweep"
    env = standin.env()
    assert sweep_local(sweep_file, sweep_dir, env, "--count", "2").exit_code == 0
    ledger = ledger_of(sweep_dir)
    edited_id = sorted(ledger["runs"])[0]
    ledger["runs"][edited_id]["config"].update(edit)
    (sweep_dir / LEDGER_NAME).write_text(json.dumps(ledger))

    refused = sweep_local(sweep_file, sweep_dir, env)
    assert refused.exit_code == 2, refused.output
    assert problem in refused.output and f"run {edited_id!r}" in refused.output
    assert "ledger.previous.json" in refused.output
    assert len(standin.starts()) == 2, "runs started from an edited ledger"
