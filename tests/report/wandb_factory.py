"""The runs of a ``sweep_factory`` sweep directory as W&B would hold them after an online
sweep: each run with its config, summary and saved results.json, the sweep's config, and
the pretrain run of the backbone (found by its key)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from sslexp.report.collect import collect_sweep
from tests.wandb_standins.public_api import FakeApi

SWEEP_ID = "abc123"
BACKBONE = "k1"


def api_from_sweep(sweep_dir: Path, with_results: bool = True) -> FakeApi:
    """A stand-in ``wandb.Api()`` holding the runs of ``sweep_dir`` (ids w0, w1, ...)."""
    api = FakeApi("team", "sslexp")
    config = yaml.safe_load((sweep_dir / "sweep.yaml").read_text())
    api.add_sweep(SWEEP_ID, config)
    for index, run in enumerate(collect_sweep(sweep_dir).runs):
        results = json.loads((run.run_dir / "results.json").read_text())
        if run.method == "ssl":
            results["model"]["pretrained"]["pretext"] = {"key": BACKBONE}
        summary = {}
        if results.get("test"):
            summary = {
                "test/accuracy": results["test"]["accuracy"],
                "n_labels": results["split"]["n_labels"],
            }
        api.add_run(
            f"w{index}",
            name=run.run_id,
            state=results["state"],
            group=SWEEP_ID,
            job_type="train",
            sweep=SWEEP_ID,
            config=run.config,
            summary=summary,
            files={"results.json": results} if with_results else {},
        )
    pretrain_results = json.loads((sweep_dir.parent / "pretrain" / "results.json").read_text())
    pretrain = api.add_run(
        "p0",
        name="pretrain-digits",
        job_type="pretrain",
        group=SWEEP_ID,
        config={"backbone_key": BACKBONE},
        files={"results.json": {**pretrain_results, "key": BACKBONE}},
    )
    api.add_run(
        "p1",
        name="pretrain-digits",
        job_type="pretrain",
        state="finished",
        config={"backbone_key": BACKBONE},
    )  # a claim that yielded: no results file
    api.log_artifact(pretrain, f"backbone-{BACKBONE}", {"backbone.keras": b"keras"})
    return api
