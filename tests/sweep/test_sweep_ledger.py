"""The ledger: atomic replacement and a lock that loses no update."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sslexp.sweep.ledger import Ledger, new_entry, new_run_id, write_json_atomic

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
    processes = [subprocess.Popen([sys.executable, "-c", INCREMENT, str(tmp_path), "25"]) for _ in range(2)]
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
        "config", "state", "exit_code", "results_file", "wandb_dir", "cuda_visible_devices",
        "worker", "started_at", "finished_at", "attempts", "error",
    }
