"""A folder data set's unreadable files: shown by `train` and `pretrain`, kept in the record."""

from __future__ import annotations

from click.testing import CliRunner

from sslexp.cli import main
from sslexp.runs.record import read_record
from tests.data.test_folder import write_images

TINY_MODEL = ["--image-size", "8", "--depth", "8", "--width", "4", "--wandb-mode", "disabled"]


def folder_with_broken_files(root):
    write_images(root, ["cat", "dog"], per_class=10)
    (root / "dog" / "broken.jpg").write_bytes(b"not a jpeg at all")
    (root / "cat" / "truncated.png").write_bytes(b"\x89PNG\r\n")
    return f"folder:{root}"


def test_train_and_pretrain_show_and_record_unreadable_files(tmp_path):
    dataset = folder_with_broken_files(tmp_path / "pets")
    common = ["--dataset", dataset, *TINY_MODEL, "--cache-dir", str(tmp_path / "cache")]
    runner = CliRunner()
    pretrain = runner.invoke(main, ["pretrain", *common, "--epochs", "1",
                                    "--output-dir", str(tmp_path / "backbone")])
    assert pretrain.exit_code == 0, pretrain.output
    train = runner.invoke(main, ["train", *common, "--method", "scratch", "--label-fraction", "1",
                                 "--epochs", "1", "--output-dir", str(tmp_path / "run")])
    assert train.exit_code == 0, train.output
    for result, run_dir in ((pretrain, "backbone"), (train, "run")):
        assert "2 unreadable files left out" in result.output, result.output
        assert "cat/truncated.png" in result.output and "dog/broken.jpg" in result.output
        record = read_record(tmp_path / run_dir)
        assert record.skipped_files == ["cat/truncated.png", "dog/broken.jpg"]
