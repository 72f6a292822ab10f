"""The run record: written whole, read without trust, documented from its own fields."""

import ast
import json
import os
import stat
from pathlib import Path

import pytest

from sslexp.runs.record import (RESULTS_FILE, Record, load_record, read_record, schema_markdown,
                                write_atomic, write_record)

ROOT = Path(__file__).resolve().parents[2]


def test_a_record_round_trips_and_keeps_unknown_fields(tmp_path):
    record = Record(kind="train", name="ssl-p0.1-fold0", config={"method": "ssl"},
                    test={"accuracy": 0.5}, files={"model": "model.keras"},
                    extra={"written_by": "a newer sslexp"})
    write_record(tmp_path, record)
    again = read_record(tmp_path)
    assert again == record
    assert json.loads((tmp_path / RESULTS_FILE).read_text())["written_by"] == "a newer sslexp"
    assert again.test_accuracy == 0.5


def test_schema_1_records_still_read():
    record = Record.from_json({"schema": 1, "kind": "pretrain", "state": "finished",
                               "files": ["backbone.keras", "pretext.keras", "figures/rotations.png"]})
    assert record.files == {"backbone": "backbone.keras", "pretext": "pretext.keras",
                            "figures/rotations": "figures/rotations.png"}


@pytest.mark.parametrize("content, problem", [
    (None, "missing"),
    (b'{"state": "finished", "test": {"accur', "unreadable"),
    (b"[]", "not a results record"),
    (b'{"state": "exploded"}', "not a results record"),
    (b"\xff\xfe", "unreadable"),
])
def test_missing_truncated_or_foreign_files_are_no_record(tmp_path, content, problem):
    if content is not None:
        (tmp_path / RESULTS_FILE).write_bytes(content)
    loaded = load_record(tmp_path)
    assert loaded.record is None and problem in loaded.problem
    assert read_record(tmp_path) is None


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_honour_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        path = write_atomic(tmp_path / "shared.json", b"{}")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert [p.name for p in tmp_path.iterdir()] == ["shared.json"]  # no temporary file left


def test_a_failed_write_leaves_the_old_file(tmp_path):
    path = write_atomic(tmp_path / "x.bin", b"old")

    def explode(stream):
        stream.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_atomic(path, explode)
    assert path.read_bytes() == b"old" and len(list(tmp_path.iterdir())) == 1


def test_results_format_doc_is_generated_from_the_record():
    assert (ROOT / "docs" / "results-format.md").read_text() == schema_markdown(), (
        "regenerate docs/results-format.md with the command in its first lines")


RUN_FILE_NAMES = {"results.json", "history.csv", "model.keras", "best.weights.h5",
                  "backbone.keras", "pretext.keras", "output.log", "progress.json"}
SWEEP_FILE_NAMES = {"ledger.json", "ledger.previous.json", "sweep.yaml"}


def test_each_file_name_is_defined_once_in_the_package():
    owners = {name: "sslexp/runs/record.py" for name in RUN_FILE_NAMES}
    owners.update({name: "sslexp/sweep/ledger.py" for name in SWEEP_FILE_NAMES})
    found = {}
    for path in sorted((ROOT / "sslexp").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in owners:
                found.setdefault(node.value, []).append(path.relative_to(ROOT).as_posix())
    assert found == {name: [owner] for name, owner in owners.items()}
