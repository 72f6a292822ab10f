"""The README's bad input, given as sweep parameters: refused before the first run where it
can be checked without data (exit 2, naming the run and parameter), and otherwise recorded
as that run's failure with the same message, the other runs going on."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner

from sslexp.cli import main

TINY = {
    "dataset": "digits",
    "image_size": 8,
    "depth": 8,
    "width": 4,
    "budget": "matched",
    "max_updates": 4,
    "pretext_epochs": 1,
    "label_fraction": 0.2,
}


def write_sweep(tmp_path, bad: dict) -> str:
    parameters = {name: {"value": value} for name, value in TINY.items()}
    parameters["method"] = {"values": ["scratch", "ssl"]}
    parameters.update({name: {"values": [value]} for name, value in bad.items()})
    path = tmp_path / "bad.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "bad",
                "method": "grid",
                "parameters": parameters,
                "command": ["${env}", "${interpreter}", "-m", "sslexp", "train", "${args}"],
            }
        )
    )
    return str(path)


def invoke(*args):
    return CliRunner().invoke(main, [str(arg) for arg in args])


# Everything of the README's list that needs no data (the rest: see the test below).
BAD_PARAMETERS = [
    ({"label_fraction": 1.5}, "label_fraction=1.5"),
    ({"dataset": "imagenet"}, "run scratch-dataset-imagenet: parameter dataset='imagenet'"),
    ({"dataset": "folder:{one_class}"}, "found 1 class sub-directory"),
    ({"pretrained": "{missing}"}, "pretrained="),
    ({"image_size": 4}, "image_size=4"),
    ({"depth": 10}, "depth=10"),
    ({"finetune": "sideways"}, "finetune='sideways'"),
    ({"pretext_val_fraction": 1.5}, "pretext_val_fraction=1.5"),
    ({"label_fracton": 0.1}, "label_fracton"),  # a typo: not an option of train
]


@pytest.mark.parametrize(
    "bad, message",
    BAD_PARAMETERS,
    ids=[next(iter(bad)) + str(i) for i, (bad, _) in enumerate(BAD_PARAMETERS)],
)
@pytest.mark.parametrize("command", ["local", "plan"])
def test_bad_parameters_stop_the_sweep_before_its_first_run(
    tmp_path, monkeypatch, bad, message, command
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "one_class" / "cat").mkdir(parents=True)
    (tmp_path / "one_class" / "cat" / "a.png").write_bytes(b"")
    places = {"one_class": tmp_path / "one_class", "missing": tmp_path / "missing.keras"}
    bad = {
        name: str(value).format(**places) if isinstance(value, str) else value
        for name, value in bad.items()
    }
    extra = ["--probe", "false"] if command == "plan" else []
    result = invoke("sweep", command, write_sweep(tmp_path, bad), *extra)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "sweep-runs").exists()


@pytest.mark.slow
def test_too_few_labels_fail_that_run_and_the_plan_says_so_first(tmp_path, monkeypatch, data_cache):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SSLEXP_CACHE_DIR", str(data_cache))
    sweep = write_sweep(tmp_path, {"label_fraction": 0.003, "method": "scratch"})
    plan = invoke("sweep", "plan", sweep, "--probe", "false")
    assert plan.exit_code == 2, plan.output
    assert "run scratch-p0.003: parameter label_fraction=0.003" in plan.output

    local = invoke("sweep", "local", sweep, "--wandb-mode", "disabled")
    assert local.exit_code == 1, local.output
    assert "1 failed (1 runs)" in local.output
    assert "scratch-p0.003 failed: exited with status 2" in local.output
    assert "label_fraction" in local.output
