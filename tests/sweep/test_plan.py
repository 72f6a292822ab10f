"""`sslexp sweep plan`: the grid with labels and budget, the backbones, a measured estimate."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from sslexp.cli import main
from sslexp.sweep.plan import backbone_cache_of, runs_sslexp_train, workers_in_comments
from sslexp.sweep.spec import parse_sweep
from tests.faults.test_bad_sweep_input import write_sweep


def test_only_sslexp_train_sweeps_are_planned():
    def spec(command):
        return parse_sweep(
            {"method": "grid", "parameters": {"a": {"values": [1]}}, "command": command},
            Path("s.yaml"),
        )

    assert runs_sslexp_train(spec(["${env}", "${interpreter}", "-m", "sslexp", "train", "${args}"]))
    assert runs_sslexp_train(spec(["/opt/env/bin/sslexp", "train", "${args}"]))
    assert not runs_sslexp_train(spec(["${env}", "${interpreter}", "other.py", "${args}"]))


def test_the_backbone_cache_is_the_sweeps_parameter_else_the_default():
    def spec(parameters):
        return parse_sweep(
            {"method": "grid", "parameters": parameters, "program": "x.py"}, Path("s.yaml")
        )

    default = Path("artifacts/backbones")
    shared = spec({"backbone_cache": {"value": "/shared"}, "fold": {"values": [0]}})
    assert backbone_cache_of(shared, default) == Path("/shared")
    assert backbone_cache_of(spec({"fold": {"values": [0]}}), default) == default


@pytest.mark.slow
def test_the_plan_lists_runs_backbones_and_a_measured_time(
    tmp_path, monkeypatch, data_cache, pretrained_dir
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SSLEXP_CACHE_DIR", str(data_cache))
    sweep = write_sweep(tmp_path, {"label_fraction": 0.2})
    listing = CliRunner().invoke(main, ["sweep", "plan", sweep, "--no-probe"])
    assert listing.exit_code == 0, listing.output
    lines = listing.stdout.splitlines()
    assert "Loading digits at 8 px..." in listing.stderr  # said while it happens
    assert lines[0].startswith("Sweep 'bad'") and "2 runs over label_fraction x method" in lines[0]
    (ssl_row,) = [line for line in lines if line.startswith("ssl-p0.2 ")]
    assert ssl_row.split()[3:7] == ["227", "60", "4", "4"]  # train, val, updates, val every
    (backbone_line,) = [line for line in lines if "artifacts/backbones/" in line]
    assert backbone_line.endswith("to pretrain (1 epochs)")
    assert "Time: not estimated" in listing.output

    (cached,) = [Path(part) for part in backbone_line.split() if "artifacts/backbones" in part]
    shutil.copytree(pretrained_dir, cached)  # the same tiny pretrain config
    probed = CliRunner().invoke(main, ["sweep", "plan", sweep, "--workers", "2"])
    assert probed.exit_code == 0, probed.output
    assert f"{cached}  cached" in probed.output
    assert "Time: at most" in probed.output and "with 2 worker(s)" in probed.output
    assert "Probing:" in probed.stderr and "training steps of model 1 of 1" in probed.stderr
    assert not (tmp_path / "sweep-runs").exists()


def test_the_workers_default_to_those_the_yaml_header_suggests():
    header = (
        "# Sized for two workers:\n"
        "#   sslexp sweep local sweeps/fashion_mnist.yaml --workers 2\n"
        "name: fashion_mnist\n"
    )
    assert workers_in_comments(header) == 2
    assert workers_in_comments("# sslexp sweep local s.yaml --workers=3\n") == 3
    assert workers_in_comments("name: demo\n") is None
