"""One pretraining per backbone across machines that share a W&B project but no file system.

W&B has no lock, so the rule is a claim that is checked again after it is made:

1. A committed artifact ``backbone-<key>`` is the backbone: download it.
2. A pretrain run (job type ``pretrain``, config ``backbone_key: <key>``) that is
   still running is a claim: wait for its artifact, polling with a fresh API
   client, until the timeout; if every claim dies meanwhile, go to 3.
3. Nobody claims it: start the pretrain run (the claim), then list the live
   claims again. The earliest (creation time, then id) wins; a later claimant
   finishes its run as ``yielded`` (``tracking.Yielded``) and waits as in 2.

A claimant that crashed stays ``running`` until the server notices (minutes),
so waiters wait that much longer; the timeout ends a wait that never ends, with
a message naming the claim. On one machine the cache's file lock comes first
(``sslexp.training.backbones``), so only one process per machine takes part.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sslexp.config import PretrainConfig, flatten, from_dict
from sslexp.runs.protocol import (BACKBONE_KEY, BACKBONE_POLL_ENV, BACKBONE_WAIT_ENV,
                                  PRETRAIN_JOB, backbone_artifact_name)
from sslexp.runs.record import BACKBONE_FILE, RESULTS_FILE, Record, read_record, write_record
from sslexp.training.tracking import (ArtifactSpec, WandbSettings, Yielded, log_artifact,
                                      resolve_mode, start_run, warn)

LIVE_STATES = ("running", "pending")
DEFAULT_WAIT_S = 6 * 3600.0
DEFAULT_POLL_S = 30.0


class BackboneWaitTimeout(RuntimeError):
    """Another machine claimed a backbone and did not deliver it in time."""


def default_api():
    import wandb

    return wandb.Api()


@dataclass
class SharedBackbones:
    """The rule above for one W&B project; the clock, sleep and API are injectable."""

    project: str
    entity: str | None = None
    wait_s: float = DEFAULT_WAIT_S
    poll_s: float = DEFAULT_POLL_S
    api_factory: Callable[[], object] = default_api
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    echo: Callable[[str], None] = field(default=lambda message: warn(message))

    @classmethod
    def for_settings(cls, settings: WandbSettings,
                     environ: Mapping[str, str] = os.environ) -> "SharedBackbones | None":
        """The rule for online runs (None otherwise); SSLEXP_BACKBONE_WAIT_S and
        SSLEXP_BACKBONE_POLL_S set how long and how often to look for a claimed backbone."""
        if resolve_mode(settings.mode) != "online":
            return None
        target = settings.target()
        return cls(target.project, target.entity,
                   wait_s=_seconds(environ, BACKBONE_WAIT_ENV, DEFAULT_WAIT_S),
                   poll_s=_seconds(environ, BACKBONE_POLL_ENV, DEFAULT_POLL_S))

    def obtain(self, key: str, directory: Path, pretrain: Callable[[Callable], Record]) -> Record:
        """The backbone ``key`` in ``directory``: downloaded, or pretrained here by
        ``pretrain(on_start)`` when no other machine has or is making it."""
        deadline = self.clock() + self.wait_s
        while True:
            api = self.api_factory()
            artifact = self.find(api, key)
            if artifact is None and not self.live_claims(api, key):
                try:
                    return pretrain(self.claim_check(key))
                except _ClaimLost:
                    pass
            if artifact is None:
                artifact = self._wait(key, deadline)
            if artifact is not None:
                return self.download(artifact, directory)

    def find(self, api, key: str):
        """The committed artifact of backbone ``key``, or None."""
        try:
            artifact = api.artifact(self._path(f"{backbone_artifact_name(key)}:latest"),
                                    type="model")
        except Exception:  # wandb.errors.CommError (or ValueError under WANDB_DEBUG): none yet
            return None
        return artifact if getattr(artifact, "state", "COMMITTED") == "COMMITTED" else None

    def live_claims(self, api, key: str) -> list:
        """Pretrain runs of backbone ``key`` still running, earliest first."""
        runs = api.runs(self._path(), filters={"$and": [{"jobType": PRETRAIN_JOB},
                                                        {f"config.{BACKBONE_KEY}": key}]})
        return sorted((run for run in runs if run.state in LIVE_STATES),
                      key=lambda run: (str(run.created_at), run.id))

    def claim_check(self, key: str) -> Callable:
        """What the pretrain run does right after ``wandb.init``: stay the earliest claim
        or yield."""
        def check(run) -> None:
            claims = self.live_claims(self.api_factory(), key)
            if claims and claims[0].id != run.id:
                self.echo(f"W&B run {claims[0].id} claimed backbone {key} first; "
                          f"this pretraining yields to it")
                raise _ClaimLost(claims[0].id)
        return check

    def download(self, artifact, directory: Path) -> Record:
        """The artifact's backbone and pretraining record into ``directory``; the record
        then names the artifact it came from."""
        directory = Path(directory)
        artifact.download(root=str(directory))
        record = read_record(directory)
        reference = (f"{artifact.entity}/{artifact.project}/"
                     f"{artifact.name.split(':')[0]}:{artifact.version}")
        if record is None or not record.is_finished or not (directory / BACKBONE_FILE).is_file():
            raise RuntimeError(f"W&B artifact {reference} holds no finished backbone "
                               f"({BACKBONE_FILE} and its results file); pretrain it again "
                               f"after deleting that artifact version")
        record.artifact = reference
        write_record(directory, record)
        self.echo(f"backbone {record.key} downloaded from W&B ({reference}) into {directory}")
        return record

    def publish(self, directory: Path, settings: WandbSettings) -> str | None:
        """Log a backbone cached without W&B (or offline) as its artifact, from a pretrain run
        that replays its record's curves, unless W&B already holds it; its reference."""
        directory = Path(directory)
        record = read_record(directory)
        artifact = self.find(self.api_factory(), record.key)
        if artifact is not None:
            return (f"{artifact.entity}/{artifact.project}/{artifact.name.split(':')[0]}:"
                    f"{artifact.version}")
        config = {**_flat_pretrain_config(record.config), BACKBONE_KEY: record.key}
        with start_run(settings, job_type=PRETRAIN_JOB, name=record.name or record.key,
                       config=config, run_dir=directory) as run:
            for row in record.history:  # the keys Keras' W&B callback logs while pretraining
                run.log({f"epoch/{name}": value for name, value in row.items()})
            run.summary.update({"best_val_rotation_accuracy": record.best_val_accuracy,
                                "best_epoch": record.best_epoch, "replayed_from": str(directory)})
            reference = log_artifact(run, ArtifactSpec(backbone_artifact_name(record.key),
                                                       (BACKBONE_FILE, RESULTS_FILE),
                                                       metadata=record.config), directory)
        if reference:
            record.artifact = reference
            write_record(directory, record)
        return reference

    def _wait(self, key: str, deadline: float):
        """The artifact once a claim delivers it; None when every claim died first."""
        claims = [run.id for run in self.live_claims(self.api_factory(), key)]
        self.echo(f"waiting for backbone {key}: W&B run(s) {', '.join(claims) or '?'} are "
                  f"pretraining it (up to {max(0.0, deadline - self.clock()):.0f} s more)")
        while self.clock() < deadline:
            self.sleep(min(self.poll_s, max(0.0, deadline - self.clock())))
            api = self.api_factory()
            artifact = self.find(api, key)
            if artifact is not None:
                return artifact
            alive = self.live_claims(api, key)
            if not alive:
                return None
            claims = [run.id for run in alive]
        raise BackboneWaitTimeout(
            f"backbone {key} did not appear on W&B ({self._path()}) within {self.wait_s:.0f} s "
            f"while run(s) {', '.join(claims)} claimed it. If that run is stuck, stop it in W&B "
            f"(or wait until W&B marks it crashed) and start again, pretrain it before the "
            "agents with `sslexp sweep pretrain SWEEP.yaml`, or wait longer with "
            f"{BACKBONE_WAIT_ENV}.")

    def _path(self, name: str | None = None) -> str:
        parts = [part for part in (self.entity, self.project, name) if part]
        return "/".join(parts)


class _ClaimLost(Yielded):
    """Raised inside the pretrain run, which ``tracking.start_run`` finishes as yielded."""


def _seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    text = environ.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} must be a number of seconds") from None
    if value < 0:
        raise ValueError(f"{name}={text!r} must not be negative")
    return value


def _flat_pretrain_config(config: dict) -> dict:
    """A record's pretrain config as the flat W&B config a pretraining logs."""
    try:
        return flatten(from_dict(PretrainConfig, config))
    except (TypeError, ValueError):
        return {key: value for key, value in config.items() if not isinstance(value, dict)}
