"""Weights & Biases, optional and lazily imported: the same code online and offline.

W&B mirrors the results files; it is never the only copy of a result.
"""

from __future__ import annotations

import contextlib
import dataclasses
import netrc
import os
from pathlib import Path

from sslexp.config import Config, flatten
from sslexp.errors import InputError

MODES = ("online", "offline", "disabled")


@dataclasses.dataclass(frozen=True)
class WandbSettings:
    mode: str | None = None  # None: WANDB_MODE, else online with credentials, else offline
    project: str = "sslexp"
    entity: str | None = None
    group: str | None = None


def has_credentials() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        hosts = netrc.netrc(os.environ.get("NETRC")).hosts
    except (OSError, netrc.NetrcParseError):
        return False
    return any("wandb" in host for host in hosts)


def resolve_mode(requested: str | None) -> str:
    """--wandb-mode, else WANDB_MODE, else online where W&B credentials exist, else offline."""
    mode = requested or os.environ.get("WANDB_MODE")
    mode = {"dryrun": "offline", "run": "online"}.get(mode, mode)
    if mode is None:
        return "online" if has_credentials() else "offline"
    if mode not in MODES:
        raise InputError("--wandb-mode", mode, f"allowed: {', '.join(MODES)}.")
    return mode


@contextlib.contextmanager
def start_run(settings: WandbSettings, *, job_type: str, name: str, config: dict,
              run_dir: Path):
    """A W&B run (or None when disabled) that is finished whatever happens inside."""
    mode = resolve_mode(settings.mode)
    if mode == "disabled":
        yield None
        return
    import wandb

    run = wandb.init(
        mode=mode,
        project=settings.project,
        entity=settings.entity,
        group=settings.group,  # None lets WANDB_RUN_GROUP apply (sweep runners set it)
        job_type=job_type,
        name=name,
        config=config,
        dir=os.environ.get("WANDB_DIR") or str(run_dir),
        reinit="finish_previous",
    )
    try:
        yield run
    except BaseException:
        run.finish(exit_code=1)
        raise
    run.finish()


def flat(config: Config) -> dict:
    """The W&B config of a run: flat keys spelled like the options (``pretext_epochs``),
    so panels group by the same names a sweep YAML uses."""
    return flatten(config)


def run_record(run) -> dict | None:
    if run is None:
        return None
    return {"mode": run.settings.mode, "run_id": run.id, "run_dir": run.dir,
            "url": run.url if run.settings.mode == "online" else None,
            "project": run.project, "group": run.group}


def metrics_callbacks(run) -> list:
    if run is None:
        return []
    from wandb.integration.keras import WandbMetricsLogger

    return [WandbMetricsLogger(log_freq="epoch")]


def log_model_artifact(run, path: Path, name: str, metadata: dict) -> str | None:
    """Log ``path`` as a model artifact; return its reference for later runs."""
    if run is None:
        return None
    import wandb

    artifact = wandb.Artifact(name=name, type="model", metadata=metadata)
    artifact.add_file(str(path))
    run.log_artifact(artifact)
    entity = f"{run.entity}/" if run.entity else ""
    return f"{entity}{run.project}/{name}:latest"


def is_artifact_reference(value: str) -> bool:
    return value.startswith("wandb-artifact://") or (
        ":" in value and not Path(value).exists() and value.count("/") >= 1
        and not value.endswith(".keras"))


def download_backbone_artifact(reference: str, settings: WandbSettings) -> Path:
    """Fetch a backbone artifact (online only) and return the .keras file inside.

    Done through the public API before the run starts, so a bad reference is
    an input error that writes nothing; the run declares the artifact it used
    with ``use_backbone_artifact``.
    """
    reference = reference.removeprefix("wandb-artifact://")
    if resolve_mode(settings.mode) != "online":
        raise InputError("pretrained", reference,
                         "looks like a W&B artifact reference, which needs --wandb-mode online; "
                         "offline, give the path of a backbone.keras file or use auto.")
    import wandb

    try:
        artifact = wandb.Api().artifact(reference, type="model")
    except Exception as error:  # the client raises several types for a missing artifact
        raise InputError("pretrained", reference,
                         f"no such W&B artifact ({type(error).__name__}: {error}).") from error
    directory = Path(artifact.download())
    files = sorted(directory.rglob("*.keras"))
    if not files:
        raise InputError("pretrained", reference, "the artifact holds no .keras file.")
    return files[0]


def use_backbone_artifact(run, reference: str | None) -> None:
    """Declare the backbone artifact an ssl run started from (W&B lineage)."""
    if run is not None and reference and run.settings.mode == "online":
        run.use_artifact(reference.removeprefix("wandb-artifact://"), type="model")
