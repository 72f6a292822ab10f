"""Nothing already computed is lost: bad input and reruns leave a finished run's files as
they were, and `train --pretrained auto` finds what `pretrain` made with the same options."""

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from sslexp.cli import main
from sslexp.runs.record import read_record

pytestmark = pytest.mark.slow  # trains real models

TINY = ["--dataset", "digits", "--image-size", "8", "--depth", "8", "--width", "4"]
ONE_SHORT_EPOCH = ["--budget=matched", "--max-updates=5"]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        path.relative_to(directory).as_posix(): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, data_cache, pretrained_dir):
    """A real finished ssl run, trained once for this module."""
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    result = invoke(
        "train",
        *TINY,
        "--label-fraction=0.1",
        *ONE_SHORT_EPOCH,
        "--wandb-mode=disabled",
        f"--cache-dir={data_cache}",
        f"--output-dir={run_dir}",
        f"--pretrained={pretrained_dir / 'backbone.keras'}",
    )
    assert result.exit_code == 0, result.output
    return run_dir


# The README's list of bad input, plus the same valid command again.
BAD_TRAIN_INPUT = [
    ({"label_fraction": 1.5}, "--label-fraction"),
    ({"label_fraction": 0.003}, "--label-fraction"),
    ({"dataset": "imagenet"}, "--dataset"),
    ({"dataset": "folder:{one_class}"}, "--dataset"),
    ({"pretrained": "{missing}"}, "--pretrained"),
    ({"image_size": 12}, "--pretrained"),  # the backbone expects 8x8 images
    ({"image_size": 4}, "--image-size"),
    ({"depth": 10}, "--depth"),
    ({"finetune": "last:999"}, "--finetune"),
    ({"pretext_val_fraction": 1.5}, "--pretext-val-fraction"),
    ({}, "--output-dir"),  # a new run started on the directory of a finished one
]


@pytest.mark.parametrize(
    "overrides, option",
    BAD_TRAIN_INPUT,
    ids=[option + str(i) for i, (_, option) in enumerate(BAD_TRAIN_INPUT)],
)
@pytest.mark.slow
def test_bad_input_on_a_finished_run_exits_2_and_changes_no_byte(
    tmp_path, data_cache, pretrained_dir, finished_run, overrides, option
):
    run_dir = tmp_path / "run"
    shutil.copytree(finished_run, run_dir)
    before = snapshot(run_dir)
    (tmp_path / "images" / "cat").mkdir(parents=True)
    values = {
        "label_fraction": 0.1,
        "budget": "matched",
        "max_updates": 5,
        "wandb_mode": "disabled",
        "cache_dir": data_cache,
        "output_dir": run_dir,
        "pretrained": pretrained_dir / "backbone.keras",
        **overrides,
    }
    places = {"one_class": tmp_path / "images", "missing": tmp_path / "missing.keras"}
    args = [f"--{k}={str(v).format(**places)}" for k, v in values.items()]
    result = invoke("train", *TINY, *args)
    assert result.exit_code == 2, result.output
    assert f"'{option}'" in result.output
    assert snapshot(run_dir) == before


def test_resume_on_a_finished_run_says_so_and_changes_nothing(
    tmp_path, data_cache, pretrained_dir, finished_run
):
    run_dir = tmp_path / "run"
    shutil.copytree(finished_run, run_dir)
    before = snapshot(run_dir)
    result = invoke(
        "train",
        *TINY,
        "--label-fraction=0.1",
        *ONE_SHORT_EPOCH,
        "--wandb-mode=disabled",
        f"--cache-dir={data_cache}",
        f"--output-dir={run_dir}",
        "--resume",
        f"--pretrained={pretrained_dir / 'backbone.keras'}",
    )
    assert result.exit_code == 0, result.output
    assert "nothing to resume" in result.output
    assert snapshot(run_dir) == before


@pytest.mark.parametrize(
    "args, option",
    [
        (["--val-fraction=1.5"], "--val-fraction"),
        (["--rotations=sideways"], "--rotations"),
        ([], "--output-dir"),
    ],
)
def test_bad_pretrain_input_on_a_finished_backbone_changes_no_byte(
    tmp_path, data_cache, pretrained_dir, args, option
):
    directory = tmp_path / "pretrained"
    shutil.copytree(pretrained_dir, directory)
    before = snapshot(directory)
    result = invoke(
        "pretrain",
        *TINY,
        "--epochs=1",
        f"--cache-dir={data_cache}",
        f"--output-dir={directory}",
        "--wandb-mode=disabled",
        *args,
    )
    assert result.exit_code == 2, result.output
    assert f"'{option}'" in result.output
    assert snapshot(directory) == before


@pytest.mark.slow
def test_train_uses_the_backbone_pretrain_made_with_the_same_pretext_options(
    tmp_path, data_cache, monkeypatch
):
    cache = tmp_path / "backbones"
    result = invoke(
        "pretrain",
        *TINY,
        "--epochs=1",
        "--val-fraction=0.2",
        f"--cache-dir={data_cache}",
        f"--backbone-cache={cache}",
        "--wandb-mode=disabled",
    )
    assert result.exit_code == 0, result.output
    (backbone_dir,) = [path for path in cache.iterdir() if path.is_dir()]
    before = snapshot(backbone_dir)

    from sslexp.training import backbones

    monkeypatch.setattr(
        backbones,
        "run_pretraining",
        lambda *a, **k: pytest.fail("pretrained again instead of using the cache"),
    )
    result = invoke(
        "train",
        *TINY,
        "--method=ssl",
        "--pretrained=auto",
        "--pretext-epochs=1",
        "--pretext-val-fraction=0.2",
        "--label-fraction=0.1",
        *ONE_SHORT_EPOCH,
        "--wandb-mode=disabled",
        f"--cache-dir={data_cache}",
        f"--backbone-cache={cache}",
        f"--output-dir={tmp_path / 'run'}",
    )
    assert result.exit_code == 0, result.output
    record = read_record(tmp_path / "run")
    assert Path(record.model["pretrained"]["path"]) == (backbone_dir / "backbone.keras").resolve()
    assert record.model["pretrained"]["pretext"]["config"]["pretext"]["val_fraction"] == 0.2
    assert snapshot(backbone_dir) == before
