"""The ledger: atomic replacement, a lock that loses no update, and what an exit
status and a record mean for it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from sslexp.runs.record import Record, write_json_atomic
from sslexp.sweep.ledger import (
    Ledger,
    classify,
    last_line,
    new_entry,
    new_run_id,
    readable_name,
    run_state,
)

INCREMENT = """
import sys
from pathlib import Path
from sslexp.sweep.ledger import Ledger
ledger = Ledger(Path(sys.argv[1]))
for _ in range(int(sys.argv[2])):
    with ledger.transaction() as data:
        data["counter"] = data.get("counter", 0) + 1
"""


def test_concurrent_processes_lose_no_update(tmp_path):
    processes = [
        subprocess.Popen([sys.executable, "-c", INCREMENT, str(tmp_path), "25"]) for _ in range(2)
    ]
    assert [process.wait(timeout=60) for process in processes] == [0, 0]
    assert Ledger(tmp_path).read()["counter"] == 50


def test_a_failed_transaction_leaves_the_ledger_unchanged(tmp_path):
    ledger = Ledger(tmp_path)
    ledger.initialise("demo")
    with pytest.raises(RuntimeError):
        with ledger.transaction() as data:
            data["runs"]["x"] = new_entry({"a": 1})
            raise RuntimeError("stop half-way")
    assert ledger.read() == {"sweep": "demo", "runs": {}}


def test_atomic_write_leaves_no_temporary_file(tmp_path):
    write_json_atomic(tmp_path / "ledger.json", {"a": 1})
    write_json_atomic(tmp_path / "ledger.json", {"a": 2})
    assert json.loads((tmp_path / "ledger.json").read_text()) == {"a": 2}
    assert [path.name for path in tmp_path.iterdir()] == ["ledger.json"]


def test_a_corrupt_ledger_is_reported_with_what_to_do(tmp_path):
    (tmp_path / "ledger.json").write_text("{not json")
    with pytest.raises(ValueError, match="another --dir"):
        Ledger(tmp_path).read()


def test_run_ids_look_like_wandb_ids_and_avoid_taken_ones():
    taken = {new_run_id(set()) for _ in range(50)}
    fresh = new_run_id(taken)
    assert fresh not in taken
    assert len(fresh) == 8 and fresh.isalnum() and fresh == fresh.lower()


def test_a_new_entry_has_every_field_the_report_reads():
    assert set(new_entry({"a": 1})) == {
        "config",
        "name",
        "run_dir",
        "wandb_id",
        "state",
        "exit_code",
        "results_file",
        "wandb_dir",
        "cuda_visible_devices",
        "worker",
        "started_at",
        "finished_at",
        "attempts",
        "kills",
        "error",
    }


def test_readable_names_come_from_the_varying_parameters():
    values = {"method": "ssl", "label_fraction": 0.05, "fold": 0, "lr": 0.1}
    assert readable_name(values, ["label_fraction", "method", "fold"]) == "ssl-p0.05-fold0"
    assert readable_name({"a": 1, "b": "x y"}, ["a", "b"]) == "a-1-b-x_y"


def test_a_finished_entry_counts_only_while_its_record_says_finished():
    finished = Record(kind="train", state="finished")
    assert run_state({"state": "finished"}, finished) == "finished"
    assert run_state({"state": "finished"}, None) == "interrupted"  # gone or unreadable
    assert run_state({"state": "failed"}, finished) == "failed"
    assert run_state(None, finished) == "finished"
    assert run_state(None, None) == "missing"


FINISHED = Record(kind="train", state="finished")


@pytest.mark.parametrize(
    "exit_code, results, state",
    [
        (0, FINISHED, "finished"),
        (0, Record(kind="train", state="running"), "failed"),
        (0, None, "failed"),
        (1, FINISHED, "failed"),
        (
            2,
            Record(kind="train", state="failed", error={"type": "ValueError", "message": "bad"}),
            "failed",
        ),
        (-signal.SIGTERM, Record(kind="train", state="running"), "interrupted"),
        (-signal.SIGINT, None, "interrupted"),
        (130, Record(kind="train", state="interrupted"), "interrupted"),
        (-signal.SIGKILL, Record(kind="train", state="running"), "interrupted"),
        (-signal.SIGSEGV, None, "interrupted"),
        (128 + signal.SIGKILL, Record(kind="train", state="running"), "interrupted"),  # via a shell
        (137, Record(kind="train", state="failed"), "failed"),
    ],
)
def test_classify(exit_code, results, state):
    assert classify(exit_code, results).state == state


def test_only_deaths_the_run_could_not_catch_count_as_kills():
    running = Record(kind="train", state="running")
    assert classify(-signal.SIGKILL, running).killed
    assert classify(128 + signal.SIGKILL, running).killed
    assert not classify(-signal.SIGTERM, running).killed
    assert not classify(130, Record(kind="train", state="interrupted")).killed
    assert not classify(1, None).killed


def test_errors_say_what_happened():
    running = Record(kind="train", state="running")
    assert "exited 0 but results.json says state 'running'" in classify(0, running).error
    failed = classify(
        2, Record(kind="train", state="failed", error={"type": "ValueError", "message": "bad"})
    )
    assert failed.error == "exited with status 2: ValueError: bad"
    assert (
        classify(1, None, "Traceback...\nKeyError: 'x'").error
        == "exited with status 1: Traceback...\nKeyError: 'x'"
    )
    assert classify(-signal.SIGKILL, None).error == "killed by SIGKILL"
    assert classify(0, FINISHED).error is None


def test_last_line_of_a_log(tmp_path):
    log = tmp_path / "output.log"
    log.write_text("first\nKeyError: 'x'\n\n")
    assert last_line(log) == "KeyError: 'x'"
    assert last_line(tmp_path / "missing.log") == ""


@pytest.mark.parametrize(
    "content",
    [
        "[]",
        "",
        "{not json",
        '{"sweep": "x", "runs": []}',
        '{"sweep": "x", "runs": {"a1": "finished"}}',
        '{"sweep": "x", "runs": {"a1": {"state": "done"}}}',
    ],
    ids=["list", "empty", "not-json", "runs-list", "entry-text", "unknown-state"],
)
def test_a_malformed_ledger_is_an_error_that_says_what_to_do(tmp_path, content):
    (tmp_path / "ledger.json").write_text(content)
    with pytest.raises(ValueError, match="another --dir") as raised:
        Ledger(tmp_path).read()
    assert str(tmp_path / "ledger.json") in str(raised.value)


def test_the_ledger_keeps_its_previous_version_beside_it(tmp_path):
    ledger = Ledger(tmp_path)
    ledger.initialise("demo")
    with ledger.transaction() as data:
        data["runs"]["a1"] = new_entry({"a": 1})
    with ledger.transaction() as data:
        data["runs"]["a1"]["state"] = "running"
    previous = json.loads(ledger.previous_path.read_text())
    assert previous["runs"]["a1"]["state"] == "pending"
    assert ledger.read()["runs"]["a1"]["state"] == "running"
    ledger.path.write_text("[]")
    with pytest.raises(ValueError, match=f"cp {ledger.previous_path} {ledger.path}"):
        ledger.read()
