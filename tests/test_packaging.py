"""The set-up files agree with each other, and the README's commands exist."""

import re
import tomllib
from pathlib import Path

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


def test_make_pretrain_fills_the_backbone_the_demo_sweep_uses():
    from sslexp.models import BackboneConfig
    from sslexp.pretrain import PretrainConfig

    line = re.search(r"^PRETRAIN_ARGS \?= (.+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    tokens = line.group(1).split()
    make_args = {tokens[i].lstrip("-").replace("-", "_"): tokens[i + 1]
                 for i in range(0, len(tokens), 2)}
    demo = {k: v["value"] for k, v in
            yaml.safe_load((ROOT / "sweeps" / "demo.yaml").read_text())["parameters"].items()
            if "value" in v}

    def config(source, epochs, lr, prefix=""):
        return PretrainConfig(
            dataset=source["dataset"], image_size=int(source["image_size"]),
            backbone=BackboneConfig(depth=int(source["depth"]), width=int(source["width"])),
            epochs=int(epochs), lr=float(lr),
            batch_size=int(source.get(f"{prefix}batch_size", 64)),
            unlabeled_fraction=float(source.get("unlabeled_fraction", 1.0)),
        )

    from_make = config(make_args, make_args["epochs"], make_args["lr"])
    from_demo = config(demo, demo["pretext_epochs"], demo["pretext_lr"], prefix="pretext_")
    assert from_make.key() == from_demo.key()
