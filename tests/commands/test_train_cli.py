"""End to end on digits through the CLI, as a user or a W&B agent would call it."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from sslexp.cli import main


def invoke(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


TINY = ["--dataset", "digits", "--image-size", "8", "--depth", "8", "--width", "4"]


def train_args(tmp_path, data_cache, pretrained_dir, **overrides):
    options = {
        "label_fraction": 0.1,
        "fold": 1,
        "budget": "matched",
        "max_updates": 20,
        "eval_every": 10,
        "wandb_mode": "disabled",
        "cache_dir": data_cache,
        "output_dir": tmp_path / "run",
        "pretrained": pretrained_dir / "backbone.keras",
        **overrides,
    }
    return ["train", *TINY, *[f"--{k}={v}" for k, v in options.items()]]


def test_pretrain_writes_backbone_and_results(pretrained_dir):
    results = json.loads((pretrained_dir / "results.json").read_text())
    assert results["state"] == "finished"
    assert (pretrained_dir / "backbone.keras").is_file()
    assert (pretrained_dir / "pretext.keras").is_file()
    assert [row["epoch"] for row in results["history"]] == [1]
    assert 0 <= results["best_val_accuracy"] <= 1
    assert list(results["timings"]) == ["data", "model", "compile", "fit", "select", "save"]
    assert results["data"]["n_pretext_images"] + results["data"]["n_val_images"] == 1437


@pytest.mark.slow
@pytest.mark.parametrize("method", ["ssl", "scratch"])
def test_train_with_agent_spelling_writes_complete_results(
    tmp_path, data_cache, pretrained_dir, method
):
    result = invoke(*train_args(tmp_path, data_cache, pretrained_dir, method=method))
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["state"] == "finished" and results["error"] is None
    assert results["config"]["method"] == method and results["config"]["label_fraction"] == 0.1
    assert results["split"]["n_labels"] == results["split"]["n_train"] + results["split"]["n_val"]
    assert len(results["split"]["fingerprint"]) == 16
    assert [row["epoch"] for row in results["history"]] == [1, 2]
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(results["history"][0])
    assert results["best_epoch"] in (1, 2)
    test = results["test"]
    assert 0 <= test["accuracy"] <= 1 and test["n_test"] == 360
    assert sum(map(sum, test["confusion_matrix"])) == 360
    assert set(test["per_class_accuracy"]) == set("0123456789")
    assert results["model"]["trainable_params"] > 0
    assert {"tensorflow", "keras", "python"} <= set(results["provenance"]["versions"])
    assert "revision" in results["provenance"]["git"]
    assert results["wall_time_s"] > 0
    timings = results["timings"]
    assert list(timings) == [
        "data",
        "backbone",
        "model",
        "compile",
        "fit",
        "select",
        "test",
        "save",
    ]
    assert all(seconds >= 0 for seconds in timings.values())
    assert timings["fit"] < results["wall_time_s"]
    assert (tmp_path / "run" / "model.keras").is_file()
    training = results["training"]
    assert (training["budget"], training["updates"], training["max_updates"]) == ("matched", 20, 20)
    assert training["cap_hit"] == (results["best_epoch"] == 2)
    assert training["batchnorm"]["images"] == results["split"]["n_train"]
    assert 0 <= test["without_recalibration"]["accuracy"] <= 1
    assert results["files"]["initial_filters"] == "initial_filters.npy"
    if method == "ssl":
        assert results["model"]["pretrained"]["path"].endswith("backbone.keras")
        assert results["model"]["pretrained"]["pretext"]["best_epoch"] == 1
    else:
        assert results["model"]["pretrained"] is None


@pytest.mark.slow
def test_linear_probe_trains_only_the_head(tmp_path, data_cache, pretrained_dir):
    result = invoke(
        *train_args(tmp_path, data_cache, pretrained_dir, finetune="linear", max_updates=10)
    )
    assert result.exit_code == 0, result.output
    model = json.loads((tmp_path / "run" / "results.json").read_text())["model"]
    assert model["trainable_layers"] == ["classifier"]
    assert model["trainable_params"] == 16 * 10 + 10


@pytest.mark.slow
def test_config_file_and_environment_supply_defaults(tmp_path, data_cache, pretrained_dir):
    config = tmp_path / "run.yaml"
    config.write_text("label-fraction: 0.2\nmethod: scratch\nmax-updates: 30\n")
    args = train_args(tmp_path, data_cache, pretrained_dir)
    args = [a for a in args if not a.startswith(("--label_fraction", "--max_updates", "--fold"))]
    result = invoke(*args, "--config", config, "--max-updates=10", env={"SSLEXP_FOLD": "2"})
    assert result.exit_code == 0, result.output
    config_used = json.loads((tmp_path / "run" / "results.json").read_text())["config"]
    assert config_used["label_fraction"] == 0.2  # from the file
    assert config_used["method"] == "scratch"
    assert config_used["max_updates"] == 10  # the flag beats the file
    assert config_used["fold"] == 2  # from SSLEXP_FOLD


@pytest.mark.parametrize(
    "overrides, option, message",
    [
        ({"label_fraction": 1.5}, "--label-fraction", "0<x<=1"),
        ({"label_fraction": 0.0}, "--label-fraction", "0<x<=1"),
        ({"label_fraction": 0.003}, "--label-fraction", "smallest allowed fraction"),
        ({"dataset": "imagenet"}, "--dataset", "Allowed: cats_vs_dogs"),
        ({"image_size": 4}, "--image-size", "8<=x<=2048"),
        ({"finetune": "some"}, "--finetune", "last:N"),
        ({"method": "magic"}, "--method", "'ssl', 'scratch'"),
    ],
)
def test_bad_input_exits_2_and_keeps_earlier_results(
    tmp_path, data_cache, pretrained_dir, overrides, option, message
):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "results.json").write_text('{"state": "finished"}')
    result = invoke(*train_args(tmp_path, data_cache, pretrained_dir, **overrides))
    assert result.exit_code == 2, result.output
    assert option in result.output and message in result.output
    assert (run_dir / "results.json").read_text() == '{"state": "finished"}'
    assert sorted(p.name for p in run_dir.iterdir()) == ["results.json"]


def test_missing_or_wrong_shaped_pretrained_backbone_exits_2(tmp_path, data_cache, pretrained_dir):
    result = invoke(
        *train_args(tmp_path, data_cache, pretrained_dir, pretrained=tmp_path / "missing.keras")
    )
    assert result.exit_code == 2 and "--pretrained" in result.output
    assert "no such file" in result.output
    result = invoke(*train_args(tmp_path, data_cache, pretrained_dir, image_size=12))
    assert result.exit_code == 2 and "expects images of shape (8, 8, 1)" in result.output
    assert not (tmp_path / "run").exists()


def test_folder_with_one_class_exits_2(tmp_path, data_cache):
    (tmp_path / "images" / "cat").mkdir(parents=True)
    result = invoke(
        "train",
        "--dataset",
        f"folder:{tmp_path / 'images'}",
        "--method",
        "scratch",
        "--cache-dir",
        data_cache,
        "--output-dir",
        tmp_path / "run",
    )
    assert result.exit_code == 2 and "at least 2" in result.output


@pytest.mark.slow
def test_killed_pretraining_continues_with_resume(tmp_path, data_cache):
    out = tmp_path / "pretext"
    command = [
        sys.executable,
        "-m",
        "sslexp",
        "pretrain",
        *TINY,
        "--epochs",
        "4",
        "--cache-dir",
        str(data_cache),
        "--output-dir",
        str(out),
        "--wandb-mode=disabled",
    ]
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 240
    while not (out / "backup" / "training_metadata.json").exists() and process.poll() is None:
        assert time.monotonic() < deadline, "pretraining never finished an epoch"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert json.loads((out / "results.json").read_text())["state"] == "running"
    resumed = subprocess.run(
        [*command, "--resume"], env=env, capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "Epoch 1/4" not in resumed.stdout  # it did not start over
    results = json.loads((out / "results.json").read_text())
    assert results["state"] == "finished"
    assert [row["epoch"] for row in results["history"]] == [1, 2, 3, 4]
    assert not (out / "backup").exists()
