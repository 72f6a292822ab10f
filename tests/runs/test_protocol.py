"""The run protocol: what training writes is what the sweep and the report read."""

from sslexp.runs.protocol import (TEST_ACCURACY, is_artifact_reference, note_waiting,
                                  progress_path, read_progress, train_summary)
from sslexp.runs.record import Record


def test_the_wandb_summary_of_a_train_run_is_read_from_its_record():
    record = Record(kind="train", best_epoch=3, split={"n_labels": 60},
                    model={"trainable_params": 1234},
                    training={"updates": 300, "cap_hit": False},
                    test={"accuracy": 0.81, "loss": 0.6,
                          "without_recalibration": {"accuracy": 0.7, "loss": 0.9}})
    summary = train_summary(record)
    assert summary[TEST_ACCURACY] == 0.81
    assert summary["test/accuracy_without_recalibration"] == 0.7
    assert (summary["best_epoch"], summary["updates"], summary["n_labels"]) == (3, 300, 60)
    assert summary["trainable_params"] == 1234 and summary["cap_hit"] is False


def test_a_run_waiting_for_a_backbone_says_so_in_its_progress_file(tmp_path):
    note_waiting(progress_path(tmp_path), tmp_path / "cache" / "digits-abc", epochs=5)
    progress = read_progress(tmp_path)
    assert (progress["phase"], progress["epoch"], progress["epochs"]) == ("pretrain", 0, 5)
    assert "digits-abc" in progress["detail"]


def test_artifact_references_are_told_apart_from_backbone_files(tmp_path):
    backbone = tmp_path / "backbone.keras"
    backbone.write_bytes(b"")
    assert is_artifact_reference("wandb-artifact://team/sslexp/backbone-abc:v0")
    assert is_artifact_reference("team/sslexp/backbone-abc:latest")
    assert not is_artifact_reference(str(backbone))
