"""A stand-in for ``wandb.Api()`` (wandb 0.31): the calls sslexp makes, with the same names,
signatures, return shapes and exceptions as the real public API.

  Api.runs(path, filters=None, order="+created_at", per_page=50, include_sweeps=True,
           lazy=True)                               wandb/apis/public/api.py
  Api.sweep("e/p/id") -> .runs, .config, .name     wandb/apis/public/sweeps.py
  Api.artifact("e/p/name:alias", type=None)        missing -> wandb.errors.CommError
  Run.id (the run id) / .name (display name) / .state / .group / .job_type / .config
     / .summary_metrics / .sweep_name / .url / .created_at (ISO string)
  Run.file(name).download(root, replace, exist_ok) -> an open text file; a missing file
     raises CommError; Run.files(), Run.logged_artifacts(), Run.used_artifacts()
  Artifact.name ("name:alias" as fetched) / .entity / .project / .version ("vN")
     / .aliases / .state / .download(root) -> the directory

Filters follow the server's Mongo-like syntax: run fields by their GraphQL names
(``sweep``, ``group``, ``jobType``, ``state``, ``displayName``, ``name``) or
``config.<key>`` / ``summary_metrics.<key>``, with $and, $or, $in, $nin, $ne, $eq.
"""

from __future__ import annotations

import copy
import itertools
import json
import tempfile
from pathlib import Path

from wandb.errors import CommError

APP_URL = "https://wandb.example/"
_CREATED = itertools.count()


class FakeFile:
    def __init__(self, name: str, content: bytes):
        self.name = name
        self._content = content
        self.size = len(content)

    def download(self, root: str = ".", replace: bool = False, exist_ok: bool = False, api=None):
        path = Path(root) / self.name
        if path.exists() and not replace:
            if exist_ok:
                return open(path)
            raise ValueError(
                "File already exists, pass replace=True to overwrite "
                "or exist_ok=True to leave it as is and don't error."
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self._content)
        return open(path)


class FakeArtifact:
    def __init__(self, entity, project, name, type, version, files, aliases, metadata):
        self.entity, self.project, self.source_name, self.type = entity, project, name, type
        self.version = f"v{version}"
        self.aliases = list(aliases)
        self.metadata = dict(metadata or {})
        self.state = "COMMITTED"
        self._files = {key: bytes(value) for key, value in files.items()}
        self._fetched_as = None

    @property
    def name(self) -> str:
        return f"{self.source_name}:{self._fetched_as or self.version}"

    @property
    def qualified_name(self) -> str:
        return f"{self.entity}/{self.project}/{self.name}"

    def download(self, root=None, **ignored) -> str:
        root = Path(root or tempfile.mkdtemp(prefix="fake-artifact-"))
        for name, content in self._files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(content)
        return str(root)


class FakeSweep:
    def __init__(self, api, entity, project, sweep_id, config):
        self._api, self.entity, self.project, self.id = api, entity, project, sweep_id
        self.config = config
        self.name = config.get("name") or sweep_id

    @property
    def runs(self):
        return self._api.runs(f"{self.entity}/{self.project}", {"$and": [{"sweep": self.id}]})


class FakeRun:
    def __init__(
        self,
        api,
        entity,
        project,
        run_id,
        *,
        name=None,
        state="finished",
        group=None,
        job_type=None,
        config=None,
        summary=None,
        sweep=None,
        files=None,
    ):
        self._api = api
        self.entity, self.project, self.id = entity, project, run_id
        self.name = name or run_id
        self.state, self.group, self.job_type = state, group, job_type
        self.config = copy.deepcopy(config or {})
        self.summary_metrics = dict(summary or {})
        self.sweep_name = sweep
        hours, rest = divmod(next(_CREATED), 3600)
        self.created_at = f"2026-01-01T{hours % 24:02d}:{rest // 60:02d}:{rest % 60:02d}Z"
        self._files = {}
        for file_name, content in (files or {}).items():
            self.add_file(file_name, content)
        self._logged, self._used = [], []

    @property
    def url(self) -> str:
        return f"{APP_URL}{self.entity}/{self.project}/runs/{self.id}"

    def add_file(self, name: str, content) -> None:
        if not isinstance(content, (bytes, str)):
            content = json.dumps(content)
        self._files[name] = FakeFile(
            name, content.encode() if isinstance(content, str) else content
        )

    def file(self, name: str) -> FakeFile:
        try:
            return self._files[name]
        except KeyError:  # the real client: Files(...)[0] -> IndexError -> CommError
            raise CommError("list index out of range", IndexError(name)) from None

    def files(self, names=None, pattern=None, per_page=50):
        return [file for file in self._files.values() if not names or file.name in names]

    def logged_artifacts(self, per_page=100):
        return list(self._logged)

    def used_artifacts(self, per_page=100):
        return list(self._used)


class FakeApi:
    """Fill it with add_run / add_sweep / log_artifact; ``calls`` records what was asked."""

    def __init__(self, entity: str = "team", project: str = "sslexp"):
        self.default_entity = entity
        self.project = project
        self._runs: list[FakeRun] = []
        self._sweeps: dict[tuple, FakeSweep] = {}
        self._artifacts: list[FakeArtifact] = []
        self.calls: list[tuple] = []

    def add_run(self, run_id: str, **fields) -> FakeRun:
        run = FakeRun(self, self.default_entity, self.project, run_id, **fields)
        self._runs.append(run)
        return run

    def add_sweep(self, sweep_id: str, config: dict) -> FakeSweep:
        sweep = FakeSweep(self, self.default_entity, self.project, sweep_id, config)
        self._sweeps[(self.default_entity, self.project, sweep_id)] = sweep
        return sweep

    def log_artifact(
        self, run: FakeRun, name: str, files: dict, metadata=None, type: str = "model"
    ) -> FakeArtifact:
        """run.log_artifact + commit: a new version, and 'latest' moves to it."""
        versions = [a for a in self._artifacts if a.source_name == name]
        for old in versions:
            old.aliases = [alias for alias in old.aliases if alias != "latest"]
        artifact = FakeArtifact(
            run.entity, run.project, name, type, len(versions), files, ["latest"], metadata
        )
        run._logged.append(artifact)
        self._artifacts.append(artifact)
        return artifact

    def runs(
        self,
        path=None,
        filters=None,
        order="+created_at",
        per_page=50,
        include_sweeps=True,
        lazy=True,
    ):
        self.calls.append(("runs", path, filters))
        entity, project = self._project_path(path)
        runs = [
            run
            for run in self._runs
            if (run.entity, run.project) == (entity, project) and _matches(run, filters or {})
        ]
        return sorted(runs, key=lambda run: run.created_at, reverse=order.startswith("-"))

    def sweep(self, path: str) -> FakeSweep:
        self.calls.append(("sweep", path))
        key = self._full_path(path)
        if key not in self._sweeps:
            raise CommError(f"Could not find sweep {path}")
        return self._sweeps[key]

    def artifact(self, name: str, type=None) -> FakeArtifact:
        self.calls.append(("artifact", name, type))
        path, _, alias = name.partition(":")
        entity, project, collection = self._full_path(path)
        alias = alias or "latest"
        for artifact in reversed(self._artifacts):
            if (artifact.entity, artifact.project, artifact.source_name) == (
                entity,
                project,
                collection,
            ) and (alias in artifact.aliases or alias == artifact.version):
                fetched = copy.copy(artifact)
                fetched._fetched_as = alias
                return fetched
        raise CommError(
            f"artifact membership '{collection}:{alias}' not found in '{entity}/{project}'",
            ValueError(name),
        )

    def _project_path(self, path):
        parts = path.split("/") if path else []
        if len(parts) == 2:
            return parts[0], parts[1]
        return self.default_entity, parts[0] if parts else self.project

    def _full_path(self, path):
        parts = path.split("/")
        if len(parts) == 3:
            return tuple(parts)
        if len(parts) == 2:
            return self.default_entity, parts[0], parts[1]
        return self.default_entity, self.project, parts[0]


def _field(run: FakeRun, key: str):
    if key.startswith("config."):
        return run.config.get(key.split(".")[1])
    if key.startswith("summary_metrics."):
        return run.summary_metrics.get(key.split(".", 1)[1])
    return {
        "sweep": run.sweep_name,
        "group": run.group,
        "jobType": run.job_type,
        "state": run.state,
        "name": run.id,
        "displayName": run.name,
    }[key]


def _matches(run: FakeRun, filters: dict) -> bool:
    for key, wanted in filters.items():
        if key == "$and":
            ok = all(_matches(run, part) for part in wanted)
        elif key == "$or":
            ok = any(_matches(run, part) for part in wanted)
        elif isinstance(wanted, dict):
            have = _field(run, key)
            ok = all(
                {
                    "$eq": lambda v, have=have: have == v,
                    "$ne": lambda v, have=have: have != v,
                    "$in": lambda v, have=have: have in v,
                    "$nin": lambda v, have=have: have not in v,
                }[op](value)
                for op, value in wanted.items()
            )
        else:
            ok = _field(run, key) == wanted
        if not ok:
            return False
    return True
