"""Weights & Biases, optional and lazily imported: the same code online and offline.

W&B mirrors the results files; it is never the only copy of a result. Every
run saves its results.json (and its checkpoint) to W&B when it ends, so a
report can be built from W&B alone; a pretraining logs its backbone as a model
artifact, and an ssl run declares the artifact it started from. W&B records
the use of an artifact through its server only: offline, the reference is
kept in the run's record, which says so.
"""

from __future__ import annotations

import contextlib
import dataclasses
import netrc
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from sslexp.config import Config, flatten
from sslexp.errors import InputError
from sslexp.runs.lifecycle import recorded, signals_interrupt
from sslexp.runs.protocol import ARTIFACT_PREFIX, SWEEP_ENV
from sslexp.runs.record import RESULTS_FILE, Record, write_record
from sslexp.runs.wandb_errors import check_reachable, explain
from sslexp.runs.wandb_target import WandbTarget, resolve_target

MODES = ("online", "offline", "disabled")
UNDECLARED_OFFLINE = (
    "not declared: W&B records the use of an artifact through its server, "
    "which an offline run cannot reach; the reference is kept here only"
)


@dataclasses.dataclass(frozen=True)
class WandbSettings:
    mode: str | None = None  # None: WANDB_MODE, else online with credentials, else offline
    project: str | None = None  # None: as ``sslexp.runs.wandb_target`` resolves it
    entity: str | None = None
    group: str | None = None

    def target(self) -> WandbTarget:
        """Where this run goes (inside a sweep, the sweep's entity and project)."""
        return resolve_target(self.entity, self.project)


class Yielded(Exception):
    """A run that stops early on purpose (another machine took its work): its W&B run
    finishes with exit code 0 and ``outcome: yielded`` in its summary."""


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


def sweep_id(environ: Mapping[str, str] = os.environ) -> str | None:
    """The W&B sweep this process runs a run of (set by `wandb agent`), if any."""
    return environ.get("WANDB_SWEEP_ID") or None


def group_of(settings: WandbSettings, environ: Mapping[str, str] = os.environ) -> str | None:
    """The run's W&B group: the one asked for, else WANDB_RUN_GROUP, else the sweep id in a
    W&B sweep, so a sweep's downstream runs and the pretrainings they start share one."""
    return settings.group or environ.get("WANDB_RUN_GROUP") or sweep_id(environ)


def outside_the_sweep(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without the variables that bind a process to a W&B sweep run."""
    return {name: value for name, value in environ.items() if name not in SWEEP_ENV}


@contextlib.contextmanager
def start_run(settings: WandbSettings, *, job_type: str, name: str, config: dict, run_dir: Path):
    """A W&B run (or None when disabled) that is finished whatever happens inside."""
    mode = resolve_mode(settings.mode)
    if mode == "disabled":
        yield None
        return
    import wandb

    target = settings.target()
    if mode == "online":
        check_reachable()
    try:
        run = wandb.init(
            mode=mode,
            project=target.project,
            entity=target.entity,
            group=group_of(settings),
            job_type=job_type,
            name=name,
            config=config,
            dir=os.environ.get("WANDB_DIR") or str(run_dir),
            reinit="finish_previous",
        )
    except Exception as error:  # nothing is written yet: one clear line, no traceback
        raise explain(error, target.path()) from None
    try:
        yield run
    except Yielded:
        run.summary["outcome"] = "yielded"
        run.finish()
        raise
    except BaseException:
        run.finish(exit_code=1)
        raise
    run.finish()


@dataclasses.dataclass(frozen=True)
class ArtifactSpec:
    """An artifact logged from a run directory's files once the run has finished."""

    name: str
    files: tuple[str, ...]
    metadata: dict
    type: str = "model"


@contextlib.contextmanager
def tracked_run(
    settings: WandbSettings,
    record: Record,
    run_dir: Path,
    resume: bool,
    *,
    job_type: str,
    config: dict,
    name: str | None = None,
    on_start: Callable | None = None,
    artifact: ArtifactSpec | None = None,
    upload: tuple[str, ...] = (),
):
    """The W&B run around a run's lifecycle (``sslexp.runs.lifecycle.recorded``).

    In order: ``wandb.init``; ``on_start(run)`` (which may raise ``Yielded`` before
    anything is written); the record, running then finished, failed or
    interrupted; on success the artifact, logged from the final files (the record
    then names it); results.json and the ``upload`` files saved to W&B; finish.
    """
    run_dir = Path(run_dir)
    # a stop while W&B starts ends the run as interrupted too, not the process
    with (
        signals_interrupt(),
        start_run(
            settings,
            job_type=job_type,
            name=name or record.name or job_type,
            config=config,
            run_dir=run_dir,
        ) as run,
    ):
        if run is not None and on_start is not None:
            on_start(run)
        try:
            with recorded(run_dir, record, resume):
                yield run
            if run is not None and artifact is not None:
                record.artifact = log_artifact(run, artifact, run_dir)
                if record.artifact:
                    write_record(run_dir, record)
        finally:
            save_files(run, run_dir, (RESULTS_FILE, *upload))


def is_online(run) -> bool:
    return run is not None and run.settings.mode == "online"


def save_files(run, run_dir: Path, names) -> None:
    """Upload these files of ``run_dir`` when the run finishes (with their content then)."""
    if run is None:
        return
    for name in names:
        path = Path(run_dir) / name
        if not path.is_file():
            continue
        try:
            run.save(str(path), base_path=str(run_dir), policy="end", glob=False)
        except Exception as error:  # the mirror failing must not fail the run
            warn(f"could not save {path} to W&B ({type(error).__name__}: {error})")


def log_artifact(run, spec: ArtifactSpec, run_dir: Path) -> str | None:
    """Log ``spec``'s files of ``run_dir``; return the reference later runs use (the exact
    version online, ``:latest`` offline, where the version is known only after sync)."""
    import wandb

    try:
        artifact = wandb.Artifact(name=spec.name, type=spec.type, metadata=spec.metadata)
        for name in spec.files:
            artifact.add_file(str(Path(run_dir) / name), name=name)
        run.log_artifact(artifact)
        if is_online(run):
            artifact.wait()
            return f"{artifact.entity}/{artifact.project}/{spec.name}:{artifact.version}"
    except Exception as error:  # the local files are the result; the artifact mirrors them
        warn(f"could not log the W&B artifact {spec.name} ({type(error).__name__}: {error})")
        return None
    entity = f"{run.entity}/" if run.entity else ""
    return f"{entity}{run.project}/{spec.name}:latest"


def declare_backbone(run, reference: str | None) -> dict | None:
    """Declare the backbone artifact an ssl run started from (W&B lineage: backbone -> runs);
    what the record keeps about it."""
    if not reference:
        return None
    reference = reference.removeprefix(ARTIFACT_PREFIX)
    if run is None:
        return {"reference": reference, "declared": False, "note": "W&B was disabled"}
    if not is_online(run):
        return {"reference": reference, "declared": False, "note": UNDECLARED_OFFLINE}
    try:
        run.use_artifact(reference, type="model")
    except Exception as error:  # lineage is worth a note, not a failed run
        return {
            "reference": reference,
            "declared": False,
            "note": f"use_artifact failed ({type(error).__name__}: {error})",
        }
    return {"reference": reference, "declared": True, "note": None}


def flat(config: Config) -> dict:
    """The W&B config of a run: flat keys spelled like the options (``pretext_epochs``),
    so panels group by the same names a sweep YAML uses."""
    return flatten(config)


def mirror_summary(run, summary: dict) -> dict | None:
    """Put a finished run's headline figures (derived from its record) in its W&B summary;
    return what the record keeps about the W&B run."""
    if run is None:
        return None
    run.summary.update(summary)
    return run_record(run)


def run_record(run) -> dict | None:
    if run is None:
        return None
    return {
        "mode": run.settings.mode,
        "run_id": run.id,
        "run_dir": run.dir,
        "url": run.url if run.settings.mode == "online" else None,
        "project": run.project,
        "group": run.group,
    }


def metrics_callbacks(run) -> list:
    if run is None:
        return []
    from wandb.integration.keras import WandbMetricsLogger

    return [WandbMetricsLogger(log_freq="epoch")]


def download_backbone_artifact(reference: str, settings: WandbSettings) -> Path:
    """Fetch a backbone artifact (online only) and return the .keras file inside.

    Done through the public API before the run starts, so a bad reference is
    an input error that writes nothing; the run declares the artifact it used
    with ``declare_backbone``.
    """
    reference = reference.removeprefix(ARTIFACT_PREFIX)
    if resolve_mode(settings.mode) != "online":
        raise InputError(
            "pretrained",
            reference,
            "looks like a W&B artifact reference, which needs --wandb-mode online; "
            "offline, give the path of a backbone.keras file or use auto.",
        )
    import wandb

    try:
        artifact = wandb.Api().artifact(reference, type="model")
    except Exception as error:  # the client raises several types for a missing artifact
        raise InputError(
            "pretrained", reference, f"no such W&B artifact ({type(error).__name__}: {error})."
        ) from error
    directory = Path(artifact.download())
    files = sorted(directory.rglob("*.keras"))
    if not files:
        raise InputError("pretrained", reference, "the artifact holds no .keras file.")
    return files[0]


def warn(message: str) -> None:
    """One line on stderr: what happened and what sslexp did about it."""
    print(f"warning: {message}", file=sys.stderr, flush=True)
