"""An online sweep run end to end, the wandb client unmodified and talking to a loopback W&B
server: `sslexp sweep agents` (in-process agent) runs an ssl run whose backbone is pretrained
as its own W&B run and logged as an artifact, which the ssl run declares it used; the runs'
results files reach W&B, and the report's W&B source reads them back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import sslexp
from sslexp.report.wandb_source import collect_wandb
from sslexp.runs.record import read_record
from tests.wandb_standins.server import fake_wandb

PARAMETERS = {"dataset": "digits", "image_size": 8, "depth": 8, "width": 4, "method": "ssl",
              "label_fraction": 0.1, "fold": 0, "budget": "matched", "max_updates": 2,
              "pretext_epochs": 1,
              "pretext_batch_size": 128,
              "pretrained": "auto"}


def uploaded_json(backend, run_id: str, name: str) -> dict:
    return json.loads(backend.uploads[backend.run_files[("team", "sslexp", run_id, name)]])


def test_an_online_ssl_run_logs_its_pretraining_and_declares_the_backbone(tmp_path, monkeypatch,
                                                                          data_cache):
    with fake_wandb(monkeypatch, tmp_path) as backend:
        backend.add_sweep("swp1", [("runssl01", PARAMETERS)], entity="team", config={
            "name": "tiny", "method": "grid",
            "parameters": {name: {"value": value} for name, value in PARAMETERS.items()}})
        env = {**os.environ, "SSLEXP_CACHE_DIR": str(data_cache),
               "SSLEXP_BACKBONE_CACHE": str(tmp_path / "backbones"),
               "PYTHONPATH": str(Path(sslexp.__file__).resolve().parents[1])}
        agents = subprocess.run(
            [sys.executable, "-m", "sslexp", "sweep", "agents", "team/sslexp/swp1", "--count", "1",
             "--stagger", "0", "--logs", str(tmp_path / "agents")],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        run_dir = tmp_path / "runs" / "ssl-p0.1-fold0-runssl01"
        logs = "".join(path.read_text() for path in [*(tmp_path / "agents").glob("*.log"),
                                                     *run_dir.glob("output.log")])
        assert agents.returncode == 0, agents.stdout + agents.stderr + logs
        assert "agent 0 (GPU 0): ssl-p0.1-fold0 (W&B run runssl01) finished" in agents.stderr
        assert "agent 0 (GPU 0): 1 finished; exit status 0" in agents.stdout

        runs = {run["name"]: run for run in backend.runs.values()}
        (pretrain_id,) = [name for name, run in runs.items() if run.get("jobType") == "pretrain"]
        pretrain, ssl = runs[pretrain_id], runs["runssl01"]
        assert pretrain["groupName"] == "swp1" and pretrain.get("sweep") in (None, "")
        assert pretrain["displayName"].startswith("pretrain-digits-8px-resnet8w4-")
        assert ssl["jobType"] == "train" and ssl["sweep"] == "swp1" and ssl["groupName"] == "swp1"
        assert ssl["displayName"] == "ssl-p0.1-fold0"

        (artifact,) = backend.artifacts.values()
        assert artifact["state"] == "COMMITTED" and artifact["run"] == pretrain_id
        assert sorted(artifact["files"]) == ["backbone.keras", "results.json"]
        assert backend.uses == [("team", "sslexp", "runssl01", artifact["id"])]

        record = read_record(run_dir)
        assert record.state == "finished" and record.name == "ssl-p0.1-fold0"
        key = record.model["pretrained"]["pretext"]["key"]
        assert artifact["name"] == f"backbone-{key}"
        assert record.model["pretrained"]["artifact"] == {
            "reference": f"team/sslexp/backbone-{key}:v0", "declared": True, "note": None}
        assert record.wandb["run_id"] == "runssl01"
        assert uploaded_json(backend, "runssl01", "results.json") == json.loads(
            (run_dir / "results.json").read_text())
        output = (run_dir / "output.log").read_text()  # the pretraining's and the run's
        assert "pretraining into" in output and "ssl-p0.1-fold0: test accuracy" in output
        cached = read_record(tmp_path / "backbones" / Path(record.model["pretrained"]["path"])
                             .parent.name)
        assert cached.artifact == f"team/sslexp/backbone-{key}:v0"

        import wandb

        print(backend.unknown, "\n".join(backend.problems))

        sweep = collect_wandb(wandb.Api(), "team", "sslexp", sweep_id="swp1",
                              download_dir=tmp_path / "report")
        (run,) = sweep.runs
        assert run.run_id == "ssl-p0.1-fold0" and run.is_usable
        assert run.test_accuracy == record.test["accuracy"] and sweep.name == "tiny"
        (pretraining,) = sweep.pretrains
        assert pretraining.record.key == key and pretraining.pretext_checkpoint is not None
        backend.assert_clean()
