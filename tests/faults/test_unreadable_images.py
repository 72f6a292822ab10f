"""A folder data set's unreadable files: shown by `train` and by the pretraining it starts,
kept in both records; the run's progress file shows both phases."""

from __future__ import annotations

from click.testing import CliRunner

from sslexp.cli import main
from sslexp.runs.record import read_record
from sslexp.training.progress import read_progress
from tests.data.test_folder import write_images

TINY_MODEL = ["--image-size", "8", "--depth", "8", "--width", "4", "--wandb-mode", "disabled"]


def folder_with_broken_files(root):
    write_images(root, ["cat", "dog"], per_class=10)
    (root / "dog" / "broken.jpg").write_bytes(b"not a jpeg at all")
    (root / "cat" / "truncated.png").write_bytes(b"\x89PNG\r\n")
    return f"folder:{root}"


def test_an_ssl_run_that_pretrains_first_shows_and_records_unreadable_files(tmp_path):
    dataset = folder_with_broken_files(tmp_path / "pets")
    result = CliRunner().invoke(main, [
        "train", "--dataset", dataset, *TINY_MODEL, "--cache-dir", str(tmp_path / "cache"),
        "--method", "ssl", "--pretrained", "auto", "--pretext-epochs", "1", "--epochs", "1",
        "--label-fraction", "1", "--backbone-cache", str(tmp_path / "backbones"),
        "--output-dir", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    plans = [line for line in result.output.splitlines() if "unreadable" in line]
    assert len(plans) == 2, result.output  # the train plan, then the pretraining's
    for line in plans:
        assert "2 unreadable files left out" in line
        assert "cat/truncated.png" in line and "dog/broken.jpg" in line
    (backbone,) = (tmp_path / "backbones").glob("*/backbone.keras")
    for run_dir in (tmp_path / "run", backbone.parent):
        assert read_record(run_dir).skipped_files == ["cat/truncated.png", "dog/broken.jpg"]

    progress = read_progress(tmp_path / "run")
    pretrain, train = progress["phases"]["pretrain"], progress["phases"]["train"]
    assert progress["phase"] == "train" and progress["epoch"] == progress["epochs"] == 1
    assert pretrain["started_at"] <= pretrain["ended_at"] <= train["started_at"]
    assert read_progress(backbone.parent)["phase"] == "pretrain"
