"""Where W&B runs, artifacts and sweeps go: one rule for every command and every process
a command starts.

The entity and project are, in order: inside a W&B sweep run, the sweep's
(``wandb.agent`` exports WANDB_ENTITY and WANDB_PROJECT, and ``wandb.init``
ignores any other project there, so everything a run starts follows it); else
the command's option; else SSLEXP_ENTITY / SSLEXP_PROJECT; else WANDB_ENTITY /
WANDB_PROJECT; else wandb's default entity (the API key's user) and sslexp's
project. A child process is handed the result as explicit options, so it never
resolves differently from its parent.

This module imports neither wandb nor training, so sweep and report use it too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from sslexp.runs.protocol import ENTITY_ENV, PROJECT_ENV

DEFAULT_PROJECT = "sslexp"
WANDB_ENTITY_ENV = "WANDB_ENTITY"
WANDB_PROJECT_ENV = "WANDB_PROJECT"
SWEEP_ID_ENV = "WANDB_SWEEP_ID"


@dataclass(frozen=True)
class WandbTarget:
    """An entity (None: the API key's default entity) and a project."""

    entity: str | None
    project: str

    def path(self, name: str | None = None) -> str:
        """``entity/project[/name]``, or ``project[/name]`` when the entity is the default."""
        return "/".join(part for part in (self.entity, self.project, name) if part)

    def arguments(self) -> list[str]:
        """The options that give a child `sslexp` process this target."""
        entity = [f"--entity={self.entity}"] if self.entity else []
        return [f"--project={self.project}", *entity]


def in_sweep(environ: Mapping[str, str] = os.environ) -> bool:
    return bool(environ.get(SWEEP_ID_ENV))


def resolve_target(entity: str | None = None, project: str | None = None,
                   environ: Mapping[str, str] = os.environ) -> WandbTarget:
    """The entity and project by the rule in this module's docstring."""
    if in_sweep(environ):
        entity = environ.get(WANDB_ENTITY_ENV) or entity
        project = environ.get(WANDB_PROJECT_ENV) or project
    entity = entity or environ.get(ENTITY_ENV) or environ.get(WANDB_ENTITY_ENV) or None
    project = (project or environ.get(PROJECT_ENV) or environ.get(WANDB_PROJECT_ENV)
               or DEFAULT_PROJECT)
    return WandbTarget(entity, project)


@dataclass(frozen=True)
class SweepPath:
    """A sweep as ``ENTITY/PROJECT/ID``, ``PROJECT/ID`` or ``ID``."""

    sweep_id: str
    project: str | None = None
    entity: str | None = None

    @classmethod
    def parse(cls, text: str) -> "SweepPath":
        parts = text.strip().strip("/").split("/")
        if not text.strip() or len(parts) > 3 or any(not part for part in parts):
            raise ValueError(f"{text!r} is not a sweep: expected ENTITY/PROJECT/SWEEP_ID "
                             "(as `sslexp sweep create` prints it), PROJECT/SWEEP_ID or SWEEP_ID.")
        parts = [None] * (3 - len(parts)) + parts
        return cls(sweep_id=parts[2], project=parts[1], entity=parts[0])

    def target(self, entity: str | None = None, project: str | None = None,
               environ: Mapping[str, str] = os.environ) -> WandbTarget:
        """The sweep's entity and project: those in its path win over the options, which win
        over the environment."""
        return resolve_target(self.entity or entity, self.project or project, environ)

    def full(self, target: WandbTarget) -> str:
        return target.path(self.sweep_id)
