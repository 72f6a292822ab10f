"""What a new user reads: no TensorFlow C++ log lines unless asked for, a hint that points
`train --epochs` at the update budget, the files a folder data set skipped in the sweep
summary and the report, and folders named by their name, not their absolute path."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from sslexp.cli import main
from sslexp.config import PretrainConfig, TrainConfig
from sslexp.report.collect import collect_sweep
from sslexp.sweep.ledger import new_entry
from sslexp.sweep.summary import format_summary
from tests.report import sweep_factory

# What TensorFlow 2.21 writes to descriptor 2 from C++, whatever TF_CPP_MIN_LOG_LEVEL says.
NATIVE_LINES = (
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    b"I0000 00:00:1796427450.860636   13802 port.cc:153] oneDNN custom operations are on.\n"
    b"E0000 00:00:1796427458.268786   13802 mkl_util.h:52] oneDNN supports DT_UINT8 only on "
    b"platforms with AVX-512. Falling back to the default Eigen-based implementation if "
    b"present.\n"
)
# A command whose code writes those lines as C++ would, plus output people want to see.
CHATTER_COMMAND = f"""
import os, click

@click.command()
def chatter():
    os.write(2, {NATIVE_LINES!r})
    os.write(2, b"Epoch 1/2 step 3\\r")
    click.echo("Error: what the user must see", err=True)
    click.echo("result")
"""
RUN_CHATTER = """
import sys
from sslexp import cli, console
cli.COMMANDS["chatter"] = "chatter_command:chatter"
console.FILTERED_COMMANDS = ("chatter",)
cli.main(args=sys.argv[1:], prog_name="sslexp")
"""


def run_chatter(directory, *options: str) -> subprocess.CompletedProcess:
    (directory / "chatter_command.py").write_text(CHATTER_COMMAND)
    return subprocess.run(
        [sys.executable, "-c", RUN_CHATTER, *options, "chatter"],
        capture_output=True,
        timeout=120,
        cwd=directory,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(directory), *sys.path])},
    )


def test_tensorflow_cpp_log_lines_are_left_out_and_everything_else_kept(tmp_path):
    result = run_chatter(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == b"Epoch 1/2 step 3\rError: what the user must see\n"
    assert result.stdout == b"result\n"


def test_sweep_commands_leave_descriptor_2_to_the_processes_they_start(monkeypatch):
    from sslexp import console

    monkeypatch.setattr(sys.modules["__main__"], "__spec__", None, raising=False)
    assert console.is_the_program(["sslexp", "--verbose", "train", "--dataset", "digits"])
    assert not console.is_the_program(["sslexp", "sweep", "local", "sweeps/demo.yaml"])
    assert not console.is_the_program(["sslexp", "agents", "entity/project/id"])


def test_verbose_shows_the_cpp_log_lines(tmp_path):
    result = run_chatter(tmp_path, "--verbose")
    assert NATIVE_LINES in result.stderr and b"Error: what the user must see" in result.stderr


def test_train_epochs_points_at_the_update_budget():
    result = CliRunner().invoke(main, ["train", "--epochs", "5"])
    assert result.exit_code == 2
    assert "No such option: --epochs" in result.output
    assert "--max-updates" in result.output and "--patience" in result.output
    assert "Did you mean" not in result.output


SKIPPED = ["cat/broken.jpg", "cat/empty.png", "dog/a.gif", "dog/truncated.png"]


def test_the_sweep_summary_says_which_files_a_folder_data_set_skipped(tmp_path):
    runs = {}
    for name in ("r1", "r2"):
        (tmp_path / "runs" / name).mkdir(parents=True)
        (tmp_path / "runs" / name / "results.json").write_text(
            json.dumps(
                {
                    "kind": "train",
                    "state": "finished",
                    "config": {"dataset": "folder:/srv/data/pets"},
                    "test": {"accuracy": 0.5},
                    "skipped_files": SKIPPED,
                }
            )
        )
        runs[name] = {**new_entry({"a": name}), "state": "finished", "run_dir": f"runs/{name}"}
    text = format_summary(tmp_path, {"sweep": "s", "runs": runs}, "test/accuracy")
    assert text.splitlines()[-1] == (
        "4 unreadable files of folder:pets skipped (cat/broken.jpg, cat/empty.png, dog/a.gif "
        "and 1 more): every run's results.json lists them under skipped_files."
    )


@pytest.mark.slow
def test_the_report_says_which_files_a_folder_data_set_skipped(tmp_path):
    sweep_dir = sweep_factory.write_sweep(tmp_path)
    for record_path in (sweep_dir / "runs").glob("*/results.json"):
        record = json.loads(record_path.read_text())
        record_path.write_text(json.dumps({**record, "skipped_files": SKIPPED[:2]}))
    assert any(
        note.startswith("2 unreadable files of digits skipped (cat/broken.jpg, cat/empty.png)")
        for note in collect_sweep(sweep_dir).notes
    )
    result = CliRunner().invoke(main, ["report", str(sweep_dir), "--pictures", "false"])
    assert result.exit_code == 0, result.output
    assert "  2 unreadable files of digits skipped (cat/broken.jpg, cat/empty.png)" in (
        result.output
    )


def test_names_derived_from_a_folder_use_its_name_not_its_path():
    train = TrainConfig(dataset="folder:/srv/shared/projects/pets/")
    assert train.default_run_name().startswith("folder_pets-ssl-p0.1-fold0-")
    backbone = PretrainConfig(dataset="folder:/srv/shared/projects/pets")
    assert backbone.directory_name().startswith("folder_pets-32px-resnet20w16-")
    assert "srv" not in train.default_run_name() + backbone.directory_name()
    other = TrainConfig(dataset="folder:/elsewhere/pets")
    assert other.default_run_name() != train.default_run_name()  # the hash tells them apart
