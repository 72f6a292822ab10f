"""Sweep YAMLs: validation with the engine's schema, and the grid they yield."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml

from sslexp.sweep.spec import (
    SweepConfigError,
    grid_parameters,
    grid_points,
    load_sweep,
    planned_run_count,
)

SWEEPS_DIR = Path(__file__).resolve().parents[2] / "sweeps"
SHIPPED = sorted(SWEEPS_DIR.glob("*.yaml"))


def product_of_values(parameters: dict) -> list[dict]:
    names = list(parameters)
    choices = [
        spec["values"] if "values" in spec else [spec["value"]] for spec in parameters.values()
    ]
    return [dict(zip(names, combination)) for combination in itertools.product(*choices)]


def canonical(points: list[dict]) -> list[tuple]:
    return sorted(
        tuple(sorted((name, repr(value)) for name, value in point.items())) for point in points
    )


def write(tmp_path, config: dict, name: str = "sweep.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config))
    return path


def test_the_three_sweeps_are_shipped():
    assert {path.stem for path in SHIPPED} >= {"reference", "fashion_mnist", "demo"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.stem)
def test_grid_of_a_shipped_sweep_is_the_product_of_its_values(path):
    spec = load_sweep(path)
    points = grid_points(spec)
    expected = product_of_values(yaml.safe_load(path.read_text())["parameters"])
    assert canonical(points) == canonical(expected)
    assert len(points) == len({tuple(sorted(p.items())) for p in points}), (
        "the grid repeats a point"
    )
    assert planned_run_count(spec) == len(expected)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.stem)
def test_shipped_sweeps_run_sslexp_train_as_an_agent_would(path):
    spec = load_sweep(path)
    assert spec.method == "grid"
    assert spec.engine_config["metric"] == {"name": "test/accuracy", "goal": "maximize"}
    assert spec.command == ["${env}", "${interpreter}", "-m", "sslexp", "train", "${args}"]
    parameters = spec.raw["parameters"]
    assert set(parameters["method"]["values"]) <= {"ssl", "scratch"}
    assert parameters["pretrained"] == {"value": "auto"}, "the ssl backbone source must be explicit"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.stem)
def test_every_parameter_of_a_shipped_sweep_is_a_train_option(path):
    from sslexp.commands.train import train

    options = {name for param in train.params for name in param.opts if name.startswith("--")}
    for name in yaml.safe_load(path.read_text())["parameters"]:
        assert "--" + name.replace("_", "-") in options, (
            f"{path.name}: `sslexp train` has no --{name}"
        )


@pytest.mark.parametrize("name", ["unlabeled_volume.yaml", "unlabeled_volume_epochs.yaml"])
def test_the_volume_sweeps_repeat_the_studys_downstream_settings(name):
    """Their ssl runs are compared with the study's scratch runs (`report --baseline`)."""

    def fixed(name):
        parameters = yaml.safe_load((SWEEPS_DIR / name).read_text())["parameters"]
        return {key: spec for key, spec in parameters.items() if not key.startswith("pretext_")}

    study, volume = fixed("fashion_mnist.yaml"), fixed(name)
    assert volume["method"] == {"values": ["ssl"]}
    assert set(volume["label_fraction"]["values"]) <= set(study["label_fraction"]["values"])
    assert set(volume["fold"]["values"]) <= set(study["fold"]["values"])
    axes = {"method", "label_fraction", "fold"}
    assert {k: v for k, v in volume.items() if k not in axes} == {
        k: v for k, v in study.items() if k not in axes
    }


def test_reference_sweep_matches_the_reference_experiment():
    parameters = load_sweep(SWEEPS_DIR / "reference.yaml").raw["parameters"]
    fixed = {name: spec["value"] for name, spec in parameters.items() if "value" in spec}
    assert fixed["dataset"] == "cats_vs_dogs"
    assert (fixed["image_size"], fixed["depth"], fixed["batch_size"]) == (120, 20, 32)
    assert fixed["budget"] == "converged"
    assert fixed["lr"] == pytest.approx(0.001)
    assert fixed["preprocessing"] == "pixel-mean"
    assert parameters["label_fraction"]["values"] == pytest.approx([0.02 * k for k in range(1, 11)])
    assert parameters["fold"]["values"] == [0, 1, 2]


def test_an_invalid_sweep_lists_the_engines_violations(tmp_path):
    path = write(
        tmp_path,
        {
            "method": "grd",
            "metric": {"name": "test/accuracy", "goal": "max"},
            "program": "train.py",
            "parameters": {"lr": {"valus": [1, 2]}},
        },
    )
    with pytest.raises(SweepConfigError) as caught:
        load_sweep(path)
    text = "\n".join(caught.value.violations)
    assert "'grd' is not one of ['bayes', 'random', 'grid', 'custom']" in text
    assert "'max' is not one of ['minimize', 'maximize']" in text
    assert "lr" in text
    assert str(path) in str(caught.value)


def test_run_cap_is_accepted_although_the_engine_schema_lacks_it(tmp_path):
    path = write(
        tmp_path,
        {
            "method": "grid",
            "run_cap": 2,
            "program": "p.py",
            "parameters": {"a": {"values": [1, 2, 3]}},
        },
    )
    spec = load_sweep(path)
    assert spec.run_cap == 2
    assert "run_cap" not in spec.engine_config
    assert planned_run_count(spec) == 2


@pytest.mark.parametrize("run_cap", [0, -1, "3", 1.5])
def test_a_run_cap_that_is_not_a_positive_integer_is_rejected(tmp_path, run_cap):
    path = write(
        tmp_path,
        {
            "method": "grid",
            "run_cap": run_cap,
            "program": "p.py",
            "parameters": {"a": {"values": [1]}},
        },
    )
    with pytest.raises(SweepConfigError, match="run_cap must be a positive integer"):
        load_sweep(path)


def test_the_default_command_needs_a_program(tmp_path):
    path = write(tmp_path, {"method": "grid", "parameters": {"a": {"values": [1]}}})
    with pytest.raises(SweepConfigError, match=r"\$\{program\}"):
        load_sweep(path)


@pytest.mark.parametrize(
    "text, problem",
    [
        ("method: [grid\n", "not valid YAML"),
        ("- just\n- a list\n", "must hold a YAML mapping"),
        (
            "method: grid\nprogram: p.py\nparameters:\n  a: 3\n",
            "Invalid configuration for hyperparameter 'a'",
        ),
    ],
)
def test_malformed_files_are_reported_not_raised_as_crashes(tmp_path, text, problem):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SweepConfigError, match=problem):
        load_sweep(path)


def test_sweep_name_defaults_to_the_file_name(tmp_path):
    path = write(
        tmp_path,
        {"method": "grid", "program": "p.py", "parameters": {"a": {"value": 1}}},
        "my-sweep.yaml",
    )
    assert load_sweep(path).name == "my-sweep"


def test_grid_parameters_are_the_values_lists_only():
    config = {
        "parameters": {
            "a": {"values": [1, 2]},
            "b": {"value": 3},
            "c": {"distribution": "uniform", "min": 0, "max": 1},
        }
    }
    assert grid_parameters(config) == {"a": [1, 2]}


def test_the_volume_series_differ_only_in_how_pretraining_compute_is_set():
    """Matched updates in one, the study's epochs in the other, on the same volumes."""

    def parameters(name):
        return yaml.safe_load((SWEEPS_DIR / name).read_text())["parameters"]

    updates, epochs = (
        parameters("unlabeled_volume.yaml"),
        parameters("unlabeled_volume_epochs.yaml"),
    )
    assert updates["pretext_updates"]["value"] > 0 and "pretext_updates" not in epochs
    assert epochs["pretext_epochs"] == parameters("fashion_mnist.yaml")["pretext_epochs"]
    assert updates["pretext_unlabeled_fraction"] == epochs["pretext_unlabeled_fraction"]
    assert 1.0 in epochs["pretext_unlabeled_fraction"]["values"]
    assert len(epochs["fold"]["values"]) >= 5  # a one-sided exact test can reach 1/32
