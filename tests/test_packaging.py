"""The set-up files agree with each other, and the README's commands exist."""

import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parent.parent


def requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_lists_what_pyproject_lists():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {requirement_name(r) for r in project["dependencies"]}
    wanted |= {requirement_name(r) for r in project["optional-dependencies"]["cpu"]}
    wanted |= {requirement_name(r) for r in project["optional-dependencies"]["dev"]}
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in environment["dependencies"]
    pip_section = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    listed = {requirement_name(r) for r in pip_section if not r.startswith("-e")}
    assert listed == wanted
    assert "-e ." in pip_section


def test_readme_make_targets_exist():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z]+):", makefile, flags=re.MULTILINE))
    readme = (ROOT / "README.md").read_text()
    used = set(re.findall(r"^\s*make ([a-z]+)", readme, flags=re.MULTILINE))
    assert {"demo", "test"} <= used
    assert used <= targets


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_sweep_pretrain_plans_exactly_the_backbone_the_demo_ssl_runs_ask_for():
    from sslexp.config import TrainConfig
    from sslexp.sweep.spec import grid_points, load_sweep, planned_backbones

    spec = load_sweep(ROOT / "sweeps" / "demo.yaml")
    asked = {
        TrainConfig.from_flat(point).pretrain_config().key()
        for point in grid_points(spec)
        if point["method"] == "ssl"
    }
    assert [config.key() for config in planned_backbones(spec)] == sorted(asked)
    assert "sweep pretrain $(SWEEP)" in (ROOT / "Makefile").read_text()
