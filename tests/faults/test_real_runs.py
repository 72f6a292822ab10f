"""One real (tiny) ssl run on a folder data set with unreadable images, made under a
group-shared umask: the unreadable files are shown and recorded, the run's progress file
shows both phases, and every file sslexp creates honours the umask."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from sslexp.cli import main
from sslexp.runs.protocol import read_progress
from sslexp.runs.record import read_record
from tests.data.test_folder import write_images
from tests.faults.helpers import run_sweep_process
from tests.report import sweep_factory

pytestmark = pytest.mark.slow  # trains real models

SHARED_UMASK = 0o002  # a group sharing results on one file system
TINY_MODEL = ["--image-size", "8", "--depth", "8", "--width", "4", "--wandb-mode", "disabled"]


@contextlib.contextmanager
def umask(mask: int):
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def folder_with_broken_files(root):
    write_images(root, ["cat", "dog"], per_class=10)
    (root / "dog" / "broken.jpg").write_bytes(b"not a jpeg at all")
    (root / "cat" / "truncated.png").write_bytes(b"\x89PNG\r\n")
    return f"folder:{root}"


@pytest.fixture(scope="module")
def ssl_run(tmp_path_factory):
    """`sslexp train --method ssl --pretrained auto` on the folder, pretraining first."""
    root = tmp_path_factory.mktemp("real")
    dataset = folder_with_broken_files(root / "pets")
    made = root / "made"  # everything sslexp writes goes below
    with umask(SHARED_UMASK):
        result = CliRunner().invoke(
            main,
            [
                "train",
                "--dataset",
                dataset,
                *TINY_MODEL,
                "--cache-dir",
                str(made / "cache"),
                "--method",
                "ssl",
                "--pretrained",
                "auto",
                "--pretext-epochs",
                "1",
                "--budget",
                "matched",
                "--max-updates",
                "4",
                "--label-fraction",
                "1",
                "--backbone-cache",
                str(made / "backbones"),
                "--output-dir",
                str(made / "run"),
            ],
        )
    assert result.exit_code == 0, result.output
    (backbone,) = (made / "backbones").glob("*/backbone.keras")
    return result, made / "run", backbone.parent, made


@pytest.mark.slow
def test_unreadable_files_are_shown_by_train_and_its_pretraining_and_recorded(ssl_run):
    result, run_dir, backbone_dir, _ = ssl_run
    plans = [line for line in result.output.splitlines() if "unreadable" in line]
    assert len(plans) == 2, result.output  # the train plan, then the pretraining's
    for line in plans:
        assert "2 unreadable files left out" in line
        assert "cat/truncated.png" in line and "dog/broken.jpg" in line
    for directory in (run_dir, backbone_dir):
        assert read_record(directory).skipped_files == ["cat/truncated.png", "dog/broken.jpg"]


def test_the_progress_file_shows_the_pretraining_then_the_training(ssl_run):
    _, run_dir, backbone_dir, _ = ssl_run
    progress = read_progress(run_dir)
    pretrain, train = progress["phases"]["pretrain"], progress["phases"]["train"]
    assert progress["phase"] == "train" and progress["epoch"] == progress["epochs"] == 1
    assert pretrain["started_at"] <= pretrain["ended_at"] <= train["started_at"]
    assert read_progress(backbone_dir)["phase"] == "pretrain"


def modes_off_the_umask(root: Path) -> dict[str, str]:
    """Files and directories whose mode is not what a plain open/mkdir gives under the umask."""
    wrong = {}
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if path.is_symlink():
            continue
        expected = (0o777 if path.is_dir() else 0o666) & ~SHARED_UMASK
        if mode != expected and not (path.is_file() and mode == 0o777 & ~SHARED_UMASK):
            wrong[str(path.relative_to(root))] = oct(mode)
    return wrong


@pytest.mark.slow
def test_every_file_sslexp_creates_honours_the_umask(ssl_run, standin, tmp_path):
    *_, made = ssl_run
    sweep_dir = made / "sweep"
    with umask(SHARED_UMASK):
        sweep = run_sweep_process(
            standin.make_sweep(parameters={"a": {"values": [1, 2]}}),
            sweep_dir,
            standin.env(STANDIN_PROGRESS="0.01"),
        )
        assert sweep.returncode == 0, sweep.stderr
        reported = sweep_factory.write_sweep(made / "report-input")
        report = CliRunner().invoke(main, ["report", str(reported), "--pictures", "false"])
        assert report.exit_code == 0, report.output
    created = {
        "data cache": made / "cache",
        "backbone": made / "backbones",
        "run": made / "run",
        "ledger": sweep_dir / "ledger.json",
        "previous ledger": sweep_dir / "ledger.previous.json",
        "report": reported / "report" / "report.html",
    }
    assert all(path.exists() for path in created.values()), created
    assert list((made / "cache").glob("*.npz")) and list((made / "run").rglob("figures/*.png"))
    for root in (made / "cache", made / "backbones", made / "run", sweep_dir, reported / "report"):
        assert modes_off_the_umask(root) == {}, root
