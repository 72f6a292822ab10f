"""Upload a local sweep's offline W&B runs with ``wandb sync``.

Each run of a local sweep logs offline under ``runs/<name>/wandb/``; the
group (the sweep name) is recorded in the offline run itself, so ``wandb sync``
keeps it. The group listed is the one the run recorded, else the sweep name.
Runs that did not finish are left out unless asked for. The pretrainings of the
backbones the ssl runs started from log offline in the backbone's directory
(``artifacts/backbones/<key>/wandb/``); they are uploaded first, once each, with
their artifact.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sslexp.runs.record import read_record
from sslexp.sweep.ledger import Ledger

OFFLINE_RUN_GLOB = "wandb/offline-run-*"


@dataclass(frozen=True)
class OfflineRun:
    run_id: str
    state: str
    group: str
    offline_dir: Path


def find_offline_runs(sweep_dir: Path, include_unfinished: bool = False) -> tuple[list[OfflineRun], list[str]]:
    """The offline W&B run directories to upload, and the ids of runs that have none."""
    ledger = Ledger(sweep_dir)
    if not ledger.path.exists():
        raise ValueError(f"{sweep_dir} has no {ledger.path.name}: is it a directory made by `sslexp sweep local`?")
    data = ledger.read()
    sweep_group = data.get("sweep") or Path(sweep_dir).name
    found: list[OfflineRun] = []
    without_data: list[str] = []
    for run_id, entry in sorted(data["runs"].items()):
        if entry["state"] != "finished" and not include_unfinished:
            continue
        wandb_dir = sweep_dir / (entry.get("wandb_dir") or entry.get("run_dir") or "")
        if not entry.get("wandb_dir") and not entry.get("run_dir"):
            without_data.append(run_id)
            continue
        offline_dirs = sorted(path for path in wandb_dir.glob(OFFLINE_RUN_GLOB) if path.is_dir())
        if not offline_dirs:
            without_data.append(run_id)
        group = _recorded_group(ledger, entry) or sweep_group
        found += [OfflineRun(entry.get("name") or run_id, entry["state"], group, path)
                  for path in offline_dirs]
    return found, without_data


def find_backbone_runs(sweep_dir: Path) -> tuple[list[OfflineRun], list[str]]:
    """The offline W&B runs of the pretrainings the sweep's runs used (each backbone once),
    and the backbone directories that have none (pretrained with W&B disabled, online, or
    moved since)."""
    ledger = Ledger(sweep_dir)
    data = ledger.read()
    found: list[OfflineRun] = []
    without_data: list[str] = []
    seen: set[Path] = set()
    for entry in (data.get("runs") or {}).values():
        record = ledger.record_of(entry)
        pretrained = ((record.model if record else None) or {}).get("pretrained") or {}
        if not pretrained.get("path"):
            continue
        directory = Path(pretrained["path"]).parent
        if directory in seen:
            continue
        seen.add(directory)
        offline_dirs = sorted(path for path in directory.glob(OFFLINE_RUN_GLOB) if path.is_dir())
        if not offline_dirs:
            without_data.append(str(directory))
            continue
        backbone = read_record(directory)
        group = ((backbone.wandb if backbone else None) or {}).get("group") or ""
        state = backbone.state if backbone else "unknown"
        found += [OfflineRun(f"pretrain {directory.name}", state, group, path)
                  for path in offline_dirs]
    return found, without_data


def _recorded_group(ledger: Ledger, entry: dict) -> str | None:
    """The W&B group the run itself recorded, when it did."""
    record = ledger.record_of(entry)
    return ((record.wandb if record else None) or {}).get("group")


def sync_command(run: OfflineRun, wandb: str, project: str | None, entity: str | None) -> list[str]:
    argv = [wandb, "sync"]
    if project:
        argv += ["--project", project]
    if entity:
        argv += ["--entity", entity]
    return argv + [str(run.offline_dir)]


def describe(run: OfflineRun) -> str:
    """One line per run, as --dry-run prints it."""
    return f"{run.run_id}  group={run.group}  state={run.state}  {run.offline_dir}"


def sync_runs(
    runs: list[OfflineRun],
    wandb: str,
    project: str | None,
    entity: str | None,
    echo: Callable[[str], None] = print,
) -> dict[str, int]:
    """Run ``wandb sync`` for each offline run; return its exit status per directory."""
    statuses = {}
    for run in runs:
        echo(f"uploading {describe(run)}")
        completed = subprocess.run(sync_command(run, wandb, project, entity))
        statuses[str(run.offline_dir)] = completed.returncode
    return statuses
