"""An online sweep end to end in a team entity and a project of its own, the wandb client
unmodified and talking to a loopback W&B server whose default entity is the key's user:
`sslexp sweep agents` (one in-process agent, two runs) runs an ssl run whose backbone is
pretrained as its own W&B run and logged as an artifact the ssl run declares, then a
scratch run; `sslexp report --wandb` reads them back, logs the comparison run and saves
the W&B Report. Everything must land in acme-team/rotnet-study, and the server must have
seen only requests the client ships."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import sslexp
from sslexp.runs.record import read_record
from tests.wandb_standins.server import fake_wandb

ENTITY, PROJECT = "acme-team", "rotnet-study"
COMMON = {"dataset": "digits", "image_size": 8, "depth": 8, "width": 4, "label_fraction": 0.1,
          "fold": 0, "budget": "matched", "max_updates": 2, "pretext_epochs": 1,
          "pretext_batch_size": 128}
SSL = {**COMMON, "method": "ssl", "pretrained": "auto"}
SCRATCH = {**COMMON, "method": "scratch"}
SWEEP_CONFIG = {"name": "tiny", "method": "grid", "metric": {"name": "test/accuracy",
                                                             "goal": "maximize"},
                "parameters": {**{name: {"value": value} for name, value in COMMON.items()},
                               "method": {"values": ["ssl", "scratch"]},
                               "pretrained": {"value": "auto"}}}


def uploaded_json(backend, run_id: str, name: str) -> dict:
    return json.loads(backend.uploads[backend.run_files[(ENTITY, PROJECT, run_id, name)]])


def sslexp_env(tmp_path, data_cache) -> dict:
    return {**os.environ, "SSLEXP_CACHE_DIR": str(data_cache),
            "SSLEXP_BACKBONE_CACHE": str(tmp_path / "backbones"),
            "PYTHONPATH": str(Path(sslexp.__file__).resolve().parents[1])}


@pytest.fixture(scope="module")
def team_sweep(tmp_path_factory, data_cache):
    """The sweep run by one agent and reported from W&B: (backend, tmp_path, outputs)."""
    tmp_path = tmp_path_factory.mktemp("team-sweep")
    monkeypatch = pytest.MonkeyPatch()
    with fake_wandb(monkeypatch, tmp_path) as backend:
        backend.add_sweep("swp1", [("runssl01", SSL), ("runscr01", SCRATCH)], SWEEP_CONFIG,
                          entity=ENTITY, project=PROJECT)
        env = sslexp_env(tmp_path, data_cache)
        agents = subprocess.run(
            [sys.executable, "-m", "sslexp", "sweep", "agents", f"{ENTITY}/{PROJECT}/swp1",
             "--count", "2", "--stagger", "0", "--logs", str(tmp_path / "agents")],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        logs = "".join(path.read_text() for path in [*(tmp_path / "agents").glob("*.log"),
                                                     *(tmp_path / "runs").glob("*/output.log")])
        assert agents.returncode == 0, agents.stdout + agents.stderr + logs
        report = subprocess.run(
            [sys.executable, "-m", "sslexp", "report", "--wandb", f"{ENTITY}/{PROJECT}",
             "--sweep", "swp1", "--pictures=false", "--out", str(tmp_path / "report")],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert report.returncode == 0, report.stdout + report.stderr
        yield backend, tmp_path, agents, report
    monkeypatch.undo()


@pytest.mark.slow
def test_every_wandb_object_lands_in_the_sweeps_team_entity_and_project(team_sweep):
    backend, _, _, _ = team_sweep
    places = {(run["entity"], run["project"]) for run in backend.runs.values()}
    assert places == {(ENTITY, PROJECT)}
    jobs = sorted(run.get("jobType") for run in backend.runs.values())
    assert jobs == ["comparison", "pretrain", "train", "train"]
    assert {(art["entity"], art["project"]) for art in backend.artifacts.values()} == {
        (ENTITY, PROJECT)}
    (artifact,) = [art for art in backend.artifacts.values() if art["type"] == "model"]
    assert backend.uses == [(ENTITY, PROJECT, "runssl01", artifact["id"])]
    assert [(report["entity"], report["project"]) for report in backend.reports] == [
        (ENTITY, PROJECT)]
    backend.assert_clean()


@pytest.mark.slow
def test_one_agent_runs_both_runs_and_the_ssl_run_declares_its_pretrained_backbone(team_sweep):
    backend, tmp_path, agents, _ = team_sweep
    assert "agent 0 (GPU 0): ssl-p0.1-fold0 (W&B run runssl01) finished" in agents.stderr
    assert "agent 0 (GPU 0): scratch-p0.1-fold0 (W&B run runscr01) finished" in agents.stderr
    assert "agent 0 (GPU 0): 2 finished; exit status 0" in agents.stdout
    pretrain = next(run for run in backend.runs.values() if run.get("jobType") == "pretrain")
    ssl = backend.run_named("runssl01")
    assert pretrain["groupName"] == "swp1" and pretrain.get("sweep") in (None, "")
    assert pretrain["displayName"].startswith("pretrain-digits-8px-resnet8w4-")
    assert ssl["jobType"] == "train" and ssl["sweep"] == "swp1" and ssl["groupName"] == "swp1"
    assert ssl["displayName"] == "ssl-p0.1-fold0"
    (artifact,) = [art for art in backend.artifacts.values() if art["type"] == "model"]
    assert artifact["state"] == "COMMITTED" and artifact["run"] == pretrain["name"]
    assert sorted(artifact["files"]) == ["backbone.keras", "results.json"]

    run_dir = tmp_path / "runs" / "ssl-p0.1-fold0-runssl01"
    record = read_record(run_dir)
    key = record.model["pretrained"]["pretext"]["key"]
    reference = f"{ENTITY}/{PROJECT}/backbone-{key}:v0"
    assert artifact["name"] == f"backbone-{key}"
    assert record.model["pretrained"]["artifact"] == {"reference": reference, "declared": True,
                                                      "note": None}
    assert record.wandb["run_id"] == "runssl01" and record.wandb["project"] == PROJECT
    assert uploaded_json(backend, "runssl01", "results.json") == json.loads(
        (run_dir / "results.json").read_text())
    output = (run_dir / "output.log").read_text()  # the pretraining's and the run's
    assert "pretraining into" in output and "ssl-p0.1-fold0: test accuracy" in output
    cached = read_record(tmp_path / "backbones" / Path(record.model["pretrained"]["path"])
                         .parent.name)
    assert cached.artifact == reference


@pytest.mark.slow
def test_the_report_from_wandb_reads_the_runs_back_through_the_public_api(team_sweep):
    _, tmp_path, _, report = team_sweep
    assert "W&B Report: " in report.stdout and f"/{ENTITY}/{PROJECT}/reports/" in report.stdout
    rows = (tmp_path / "report" / "runs.csv").read_text()
    assert "ssl-p0.1-fold0" in rows and "scratch-p0.1-fold0" in rows


def report_references(spec: dict) -> dict[str, set]:
    """What a saved Report's panels read, by where W&B looks it up."""
    found = {"history": set(), "summary": set(), "config": set(), "media": set(),
             "tables": set(), "pretext_history": set()}
    for grid in (block for block in spec["blocks"] if block["type"] == "panel-grid"):
        runsets = grid["metadata"]["runSets"]
        pretext = any("pretrain" in json.dumps(runset["filters"]) for runset in runsets)
        for runset in runsets:
            for column in (runset.get("runFeed") or {}).get("columnOrder", []):
                section, _, name = column.partition(":")
                if section == "summary":
                    found["summary"].add(name)
                elif section == "config":
                    found["config"].add(name.removesuffix(".value"))
        for panel in grid["metadata"]["panelBankSectionConfig"]["panels"]:
            config = panel["config"]
            if panel["viewType"] == "Run History Line Plot":
                keys = {*config["metrics"], config["xAxis"]}
                found["pretext_history" if pretext else "history"] |= keys
            elif panel["viewType"] == "Scatter Plot":
                found["summary"] |= {config[axis].removeprefix("summary:")
                                     for axis in ("xAxis", "yAxis")}
            elif panel["viewType"] == "Media Browser":
                found["media"] |= set(config["mediaKeys"])
            elif panel["viewType"] == "Weave":
                found["tables"].add(
                    config["panel2Config"]["exp"]["fromOp"]["inputs"]["key"]["val"])
    return found


@pytest.mark.slow
def test_every_key_the_report_reads_was_logged_by_the_runs_it_reads(team_sweep):
    backend, _, _, _ = team_sweep
    (report,) = backend.reports
    wanted = report_references(report["spec"])
    runs = list(backend.runs.values())

    def logged(job: str, where: str) -> set:
        keys = set()
        for run in (run for run in runs if run.get("jobType") == job):
            if where == "history":
                keys |= {key for row in run.get("history", []) for key in json.loads(row)}
            elif where == "summary":
                keys |= set(json.loads(run.get("summaryMetrics") or "{}"))
            else:
                keys |= set(json.loads(run.get("config") or "{}"))
        return keys

    # one fold: the interval of the difference is undefined, and left out of the history
    undefined = {"difference/ci_low", "difference/ci_high"}
    assert undefined <= wanted["history"]
    assert wanted["history"] - undefined <= logged("comparison", "history")
    assert wanted["tables"] <= logged("comparison", "summary")
    assert wanted["pretext_history"] <= logged("pretrain", "history")
    assert wanted["summary"] <= logged("train", "summary")
    assert wanted["config"] <= logged("train", "config")
    assert wanted["media"] <= logged("train", "summary") | logged("train", "history")
