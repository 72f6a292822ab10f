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


def test_sections_read_typed_and_without_trust():
    record = Record(kind="train", split={"n_train": 50.0, "n_val": "10", "val_per_class": [1, 2],
                                         "labels_per_class": [6, 6], "pool_size": None},
                    test={"accuracy": 0.9, "loss": float("nan"), "class_names": ["a", "b"],
                          "without_recalibration": {"accuracy": 0.8}},
                    training={"cap_hit": "yes", "updates": 300, "select": "best"},
                    model={"trainable_params": 12, "pretrained": {"pretext": {"key": "k1"}}})
    split = record.split_view
    assert (split.n_train, split.n_val, split.pool_size) == (50, 10, None)
    assert split.fewest_val_per_class == 1.0
    assert (record.test_view.accuracy, record.test_view.loss) == (0.9, None)
    assert record.test_view.accuracy_without_recalibration == 0.8
    assert record.test_view.class_names == ("a", "b")
    assert (record.training_view.updates, record.training_view.cap_hit) == (300, None)
    assert record.model_view.pretext["key"] == "k1"
    assert record.n_labels is None and record.test_accuracy == 0.9


def test_a_record_without_sections_reads_as_empty_sections():
    record = Record(kind="pretrain", model=["not", "a", "dict"])
    assert record.split_view.fewest_val_per_class is None
    assert record.model_view.pretrained == {} and record.model_view.pretext == {}
    assert record.training_view.still_improving is None
    assert record.test_view.per_class_accuracy == {}
    assert record.pretrained_backbone is None
