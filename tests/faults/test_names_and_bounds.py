"""Names that cannot escape and sizes that cannot exhaust the machine: a run name is one
directory inside runs/, an update count is an exact integer under a ceiling, and an image
size is refused, before anything is decoded, when the data set would not fit in memory."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import psutil
import pytest
import yaml
from click.testing import CliRunner

from sslexp.cli import main
from sslexp.config import TrainConfig
from sslexp.data import dataset as dataset_module
from sslexp.data import registry
from sslexp.errors import InputError

MAX_UPDATES = 10**8  # the ceiling sslexp.config declares
TINY_RUN = [
    "--dataset",
    "digits",
    "--image-size",
    "8",
    "--depth",
    "8",
    "--width",
    "4",
    "--method",
    "scratch",
    "--budget",
    "matched",
    "--max-updates",
    "4",
    "--wandb-mode",
    "disabled",
]


def invoke(*args):
    return CliRunner().invoke(main, [str(arg) for arg in args])


@pytest.mark.parametrize(
    "name, problem",
    [
        ("../../evil", "path separator"),
        ("..", "of its own inside runs/"),
        ("a/b", "path separator"),
        ("a\\b", "path separator"),
        ("x" * 200, "200 characters long"),
        ("tab\there", "control character"),
    ],
)
def test_a_run_name_that_could_leave_runs_exits_2_writing_nothing(
    tmp_path, monkeypatch, data_cache, name, problem
):
    (tmp_path / "deep").mkdir()
    monkeypatch.chdir(tmp_path / "deep")
    result = invoke("train", *TINY_RUN, "--cache-dir", data_cache, "--run-name", name)
    assert result.exit_code == 2, result.output
    assert "'--run-name'" in result.output and problem in result.output
    assert sorted(path.name for path in tmp_path.rglob("*")) == ["deep"]


@pytest.mark.parametrize("value", ["1e26", 1e26, "100000001", 10**30])
def test_an_update_count_beyond_the_ceiling_is_refused_exactly(value):
    with pytest.raises(InputError) as refused:
        TrainConfig(max_updates=value)
    assert f"must be in [1, {MAX_UPDATES:,}]" in str(refused.value)
    assert "100000000000000004764729344" not in str(refused.value)  # no float round trip


def test_update_counts_are_parsed_as_exact_integers():
    assert TrainConfig(max_updates="1e3").max_updates == 1000
    assert TrainConfig(patience=2500.0).patience == 2500
    with pytest.raises(InputError, match="whole number"):
        TrainConfig(max_updates="12.5")


def test_a_sweep_with_max_updates_1e26_stops_before_its_first_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sweep = tmp_path / "huge.yaml"
    sweep.write_text(
        yaml.safe_dump(
            {
                "name": "huge",
                "method": "grid",
                "parameters": {
                    "dataset": {"value": "digits"},
                    "max_updates": {"value": "1e26"},
                    "method": {"values": ["scratch"]},
                },
                "command": ["${env}", "${interpreter}", "-m", "sslexp", "train", "${args}"],
            }
        )
    )
    result = invoke("sweep", "plan", sweep, "--probe", "false")
    assert result.exit_code == 2, result.output
    assert f"must be in [1, {MAX_UPDATES:,}]" in result.output


def test_a_config_file_with_max_updates_1e26_exits_2(tmp_path, data_cache):
    config = tmp_path / "huge.yaml"
    config.write_text("max_updates: 1.0e+26\n")
    result = invoke(
        "train",
        "--config",
        config,
        *TINY_RUN[:-4],
        "--cache-dir",
        data_cache,
        "--output-dir",
        tmp_path / "run",
    )
    assert result.exit_code == 2, result.output
    assert "--max-updates" in result.output and "100000000" in result.output
    assert not (tmp_path / "run").exists()


def test_an_image_size_past_the_ceiling_exits_2_before_loading(tmp_path):
    result = invoke(
        "train",
        "--dataset",
        "digits",
        "--image-size",
        "4096",
        "--wandb-mode",
        "disabled",
        "--output-dir",
        tmp_path / "run",
    )
    assert result.exit_code == 2, result.output
    assert "--image-size" in result.output and "4096" in result.output


def test_an_image_size_the_memory_cannot_hold_is_refused_before_decoding(tmp_path, monkeypatch):
    source = registry.resolve_source("digits")
    with pytest.raises(InputError) as refused:
        registry.check_memory(source, 1024, available=2**30)
    message = str(refused.value)
    assert message.startswith("image_size=1024: digits at 1024x1024 needs about 5.3 GiB")
    assert "1,797 images" in message and "1.0 GiB available" in message
    assert "smaller --image-size" in message

    monkeypatch.setattr(psutil, "virtual_memory", lambda: SimpleNamespace(available=2**20))
    monkeypatch.setattr(registry.cache, "read", lambda *a: pytest.fail("read the cache first"))
    with pytest.raises(InputError, match="needs about"):
        registry.load_dataset("digits", 64, tmp_path)


def test_resizing_never_goes_through_float64(monkeypatch):
    dtypes = []
    einsum = np.einsum

    def watched(subscripts, *operands, **kwargs):
        dtypes.extend(np.asarray(operand).dtype for operand in operands)
        return einsum(subscripts, *operands, **kwargs)

    monkeypatch.setattr(dataset_module.np, "einsum", watched)
    images = np.random.default_rng(0).integers(0, 256, (40, 8, 8, 1), dtype=np.uint8)
    resized = dataset_module.resize_images(images, 64)
    assert resized.shape == (40, 64, 64, 1) and resized.dtype == np.uint8
    assert dtypes and np.dtype(np.float64) not in dtypes
    assert abs(resized.astype(float).mean() - images.astype(float).mean()) < 2


def test_resizing_works_in_batches_of_bounded_memory(monkeypatch):
    batches = []
    resample = dataset_module._resample
    monkeypatch.setattr(
        dataset_module,
        "_resample",
        lambda images, *rest: batches.append(len(images)) or resample(images, *rest),
    )
    monkeypatch.setattr(dataset_module, "RESIZE_BUFFER_BYTES", 4 * 64 * 64 * 10)
    dataset_module.resize_images(np.zeros((35, 8, 8, 1), np.uint8), 64)
    assert batches == [10, 10, 10, 5]
