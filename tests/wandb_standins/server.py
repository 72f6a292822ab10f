"""A loopback W&B server for tests: the real wandb client (its Go core included) talks to it
over HTTP, so the online path runs unmodified with nothing patched in Python.

``FakeBackend`` answers the GraphQL operations and file transfers of wandb 0.31 for
``wandb.init`` online, ``log_artifact``, ``use_artifact``, artifact downloads, run
files, ``finish``, ``wandb.sweep`` (UpsertSweep), ``wandb.agent`` (CreateAgent,
Heartbeat handing out the runs given to ``add_sweep``, a stop when asked by
``stop_run``) and the public API's reads (Runs, RunFiles, GetSweep,
RunInputArtifacts...), keeping what they did in memory: ``runs`` keyed by (entity,
project, name), ``artifacts``, ``uses`` (entity, project, run name, artifact id) and
``operations`` (name, variables) in order.

It fails where the server would: an operation it does not know is answered with a
GraphQL error and listed in ``unknown`` (as is any other URL), and every request and
answer is checked against what the installed client ships (``operations``); what
does not fit is listed in ``problems``. ``assert_clean()`` is what tests call.
The default entity (the API key's user) is ``tester``, so a run that forgets its team
entity lands where a test sees it.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.wandb_standins.operations import answer_problems, request_problems

NOW = "2026-01-01T00:00:00Z"


def gid(kind: str, n) -> str:
    return base64.b64encode(f"{kind}:{n}".encode()).decode()


class FakeBackend:
    def __init__(self, entity="tester", features=()):
        self.entity = entity              # the default entity, the API key's user
        self.base_url = None              # set after the server starts
        self.lock = threading.RLock()
        self.counter = itertools.count(1)
        self.runs = {}                    # (entity, project, run_name) -> dict
        self.uploads = {}                 # upload path -> bytes
        self.run_files = {}               # (entity, project, run, name) -> upload path
        self.artifacts = {}               # artifact id -> dict
        self.uses = []                    # (entity, project, run, artifact id)
        self.operations = []              # (operation name, variables)
        self.unknown = []                 # requests the server does not know
        self.problems = []                # requests or answers that do not fit the client
        self.to_stop = set()              # run names the next heartbeat stops
        self.reports = []                 # saved W&B Reports: entity, project, spec
        self.missing_entities = set()     # entities the server answers "not found" for
        self.features = list(features)
        self.file_stream = []             # (path, payload) of every file_stream POST
        self.sweeps = {}                  # sweep id -> commands still to hand out
        self.sweep_configs = {}           # sweep id -> its config
        self.sweep_places = {}            # sweep id -> (entity, project)
        self.agent_sweep = None

    def assert_clean(self):
        """No unknown request, and every request and answer as the client ships them."""
        assert not self.unknown, f"requests the W&B server does not know: {self.unknown}"
        assert not self.problems, "\n".join(self.problems)

    def run_named(self, name):
        (run,) = [run for key, run in self.runs.items() if key[2] == name]
        return run

    # ---------------------------------------------------------------- helpers
    def _entity(self, v, key="entity"):
        return v.get(key) or self.entity

    def _project(self, project, entity=None):
        entity = entity or self.entity
        return {"id": gid("Project", project), "internalId": gid("Project", project),
                "name": project,
                "entity": {"id": gid("Entity", entity), "name": entity}}

    def _artifact_fragment(self, art):
        seq = {"__typename": "ArtifactSequence", "name": art["name"],
               "project": self._project(art["project"], art["entity"])}
        return {"__typename": "Artifact", "id": art["id"], "artifactSequence": seq,
                "versionIndex": art["version"], "artifactType": {"name": art["type"]},
                "description": None, "metadata": json.dumps(art.get("metadata") or {}),
                "ttlDurationSeconds": -1, "ttlIsInherited": True, "tags": [],
                "historyStep": None, "state": art["state"], "size": 0, "digest": art["digest"],
                "digestAlgorithm": None, "commitHash": None, "fileCount": len(art["files"]),
                "createdAt": NOW, "updatedAt": NOW,
                "aliases": [{"__typename": "ArtifactAlias", "id": gid("Alias", a), "alias": a,
                             "artifactCollection": seq | {"__typename": "ArtifactSequence"}}
                            for a in art["aliases"]]}

    def find_artifact(self, entity, project, name_alias):
        name, _, alias = name_alias.partition(":")
        alias = alias or "latest"
        with self.lock:
            for art in self.artifacts.values():
                if (art["entity"], art["project"], art["name"], art["state"]) == (
                        entity, project, name, "COMMITTED"):
                    if alias in art["aliases"] or alias == f"v{art['version']}":
                        return art
        return None

    # ---------------------------------------------------------------- HTTP
    def http(self, method, path, body):
        if method == "PUT" and path.startswith("/upload/"):
            self.uploads[path] = body
            return 200, b""
        if method == "POST" and path.endswith("/file_stream"):
            payload = json.loads(body or b"{}")
            self.file_stream.append((path, payload))
            self._apply_file_stream(path, payload)
            return 200, b"{}"
        if method == "POST" and path.startswith("/sdk/otel/v1/"):   # the client's telemetry
            return 200, b"{}"
        if method == "GET" and path == "/ping":          # fake_wandb's own check, not wandb's
            return 200, b"{}"
        if method == "GET" and path.startswith("/upload/"):
            return (200, self.uploads[path]) if path in self.uploads else (404, b"")
        self.unknown.append((method, path))
        return 404, b"{}"

    # ---------------------------------------------------------------- GraphQL
    def graphql(self, op, query, v):
        with self.lock:
            self.operations.append((op, v))
            handler = getattr(self, "op_" + op, None)
            if handler is None:
                self.unknown.append(("graphql", op))
                return {"errors": [{"message": f"Cannot query operation {op}"}], "data": None}
            self.problems += request_problems(op, query, v)
            missing = self.missing_entities & {v.get("entity"), v.get("entityName"),
                                               (v.get("input") or {}).get("entityName")}
            if missing:
                return {"errors": [{"message": f"entity {missing.pop()} not found"}],
                        "data": None}
            data = handler(v, query)
            self.problems += answer_problems(op, data)
            return {"data": data}

    def op_Viewer(self, v, q):
        return {"viewer": {"id": gid("User", 1), "entity": self.entity, "username": "tester",
                           "email": "t@example.com", "flags": "{}", "teams": {"edges": []}}}

    def op_ServerFeaturesQuery(self, v, q):
        return {"serverInfo": {"features": [{"name": f, "isEnabled": True} for f in self.features]}}

    def op_OrganizationCoreWeaveOrganizationID(self, v, q):
        return {"entity": {"organization": None}}

    def op_UpsertBucket(self, v, q):
        key = (self._entity(v), v["project"], v["name"])
        run = self.runs.setdefault(key, {"id": gid("Run", next(self.counter)), "name": v["name"],
                                         "entity": key[0], "project": key[1],
                                         "state": "running", "files": []})
        for field in ("groupName", "jobType", "displayName", "sweep", "config", "state",
                      "summaryMetrics"):
            if v.get(field) is not None:
                run[field] = v[field]
        return {"upsertBucket": {"bucket": {
            "id": run["id"], "name": run["name"], "displayName": run.get("displayName"),
            "description": None, "config": run.get("config") or "{}",
            "sweepName": run.get("sweep"), "project": self._project(v["project"], key[0]),
            "historyLineCount": 0}, "inserted": True}}

    def op_RunResumeStatus(self, v, q):
        run = self.runs.get((self._entity(v), v.get("project"), v["name"]))
        bucket = None if run is None else {
            "id": run["id"], "name": run["name"],
            "summaryMetrics": run.get("summaryMetrics") or "{}",
            "displayName": run.get("displayName"), "logLineCount": 0,
            "historyLineCount": len(run.get("history", [])), "eventsLineCount": 0,
            "historyTail": "[]", "eventsTail": "[]", "config": run.get("config") or "{}",
            "tags": [], "notes": None,
            # wandb-core treats a bucket as an existing run only if wandbConfig has "t"
            # (runbranch.runExists); the server returns config._wandb.value.t here
            "wandbConfig": json.dumps({"t": json.loads(run.get("config") or "{}")
                                       .get("_wandb", {}).get("value", {}).get("t", {})})}
        entity = self._entity(v)
        return {"model": {"id": gid("Project", v.get("project")), "name": v.get("project"),
                          "entity": {"id": gid("Entity", entity), "name": entity},
                          "bucket": bucket}}

    def op_CreateRunFiles(self, v, q):
        files = []
        entity = self._entity(v)
        for name in v["files"]:
            path = f"/upload/run/{entity}/{v['project']}/{v['run']}/{name}"
            self.run_files[(entity, v["project"], v["run"], name)] = path
            files.append({"name": name, "uploadUrl": self.base_url + path})
        run_id = self.runs.get((entity, v["project"], v["run"]), {}).get("id", "r")
        return {"createRunFiles": {"runID": run_id,
                                   "uploadHeaders": [], "files": files}}

    def op_MarkRunFilesUploaded(self, v, q):
        return {"markRunFilesUploaded": {"success": True}}

    # artifacts (log_artifact, from wandb-core)
    def op_FetchArtifactDigestAlgorithm(self, v, q):
        return {"project": None}

    def op_XXHashDigestsEnabled(self, v, q):
        return {"entity": None}

    def op_CreateArtifact(self, v, q):
        inp = v["input"]
        entity = inp.get("entityName") or self.entity
        project = inp.get("projectName")
        name = inp["artifactCollectionName"]
        versions = [a for a in self.artifacts.values()
                    if (a["entity"], a["project"], a["name"]) == (entity, project, name)]
        for existing in versions:          # same digest -> same version
            if existing["digest"] == inp["digest"]:
                return {"createArtifact": {"artifact": {
                    "id": existing["id"], "state": existing["state"],
                    "artifactSequence": {"latestArtifact": {"id": existing["id"]}}}}}
        aid = gid("Artifact", next(self.counter))
        aliases = [a["alias"] for a in inp.get("aliases") or []]
        self.artifacts[aid] = {"id": aid, "entity": entity, "project": project, "name": name,
                               "type": inp["artifactTypeName"], "digest": inp["digest"],
                               "metadata": json.loads(inp.get("metadata") or "{}"),
                               "aliases": aliases, "pending_aliases": aliases,
                               "version": len(versions), "state": "PENDING", "files": [],
                               "run": inp.get("runName"), "manifest": None}
        return {"createArtifact": {"artifact": {"id": aid, "state": "PENDING",
                                                "artifactSequence": {"latestArtifact": None}}}}

    def op_CreateArtifactManifest(self, v, q):
        mid = gid("Manifest", v["artifactID"])
        path = f"/upload/manifest/{v['artifactID']}"
        self.artifacts[v["artifactID"]]["manifest"] = path
        return {"createArtifactManifest": {"artifactManifest": {"id": mid, "file": {
            "id": gid("File", path), "uploadUrl": self.base_url + path, "uploadHeaders": []}}}}

    def op_UpdateArtifactManifest(self, v, q):
        artifact_id = base64.b64decode(v["artifactManifestID"]).decode().split(":", 1)[1]
        created = self.op_CreateArtifactManifest({"artifactID": artifact_id}, q)
        return {"updateArtifactManifest": created["createArtifactManifest"]}

    def op_CreateArtifactFiles(self, v, q):
        edges = []
        for f in v["input"]["artifactFiles"]:
            path = f"/upload/artifact/{f['artifactID']}/{f['name']}"
            self.artifacts[f["artifactID"]]["files"].append(f["name"])
            edges.append({"node": {"storagePath": path, "uploadUrl": self.base_url + path,
                                   "uploadHeaders": [], "uploadMultipartUrls": None,
                                   "artifact": {"id": f["artifactID"]}}})
        return {"createArtifactFiles": {"files": {"edges": edges}}}

    def op_CommitArtifact(self, v, q):
        art = self.artifacts[v["artifactID"]]
        for other in self.artifacts.values():   # 'latest' (and other aliases) move
            same = ((other["entity"], other["project"], other["name"])
                    == (art["entity"], art["project"], art["name"]))
            if other is not art and same:
                other["aliases"] = [a for a in other["aliases"] if a not in art["aliases"]]
        art["state"] = "COMMITTED"
        if "latest" not in art["aliases"]:
            art["aliases"].append("latest")
        return {"commitArtifact": {"artifact": {"id": art["id"], "digest": art["digest"]}}}

    # artifacts (public API, from Python through wandb-core)
    def op_ArtifactByID(self, v, q):
        art = self.artifacts.get(v["id"])
        return {"artifact": self._artifact_fragment(art) if art else None}

    def op_ArtifactMembershipByName(self, v, q):
        art = self.find_artifact(v["entity"], v["project"], v["name"])
        if art is None:
            return {"project": {"artifactCollectionMembership": None}}
        seq = {"__typename": "ArtifactSequence", "name": art["name"],
               "project": self._project(art["project"], art["entity"])}
        return {"project": {"artifactCollectionMembership": {
            "__typename": "ArtifactCollectionMembership", "id": gid("Membership", art["id"]),
            "versionIndex": art["version"], "createdAt": NOW,
            "aliases": [{"__typename": "ArtifactAlias", "id": gid("Alias", a), "alias": a}
                        for a in art["aliases"]],
            "artifactCollection": seq, "artifact": self._artifact_fragment(art)}}}

    def op_UseArtifact(self, v, q):
        inp = v.get("input") or v            # core sends {input: {...}}; Python sends flat vars
        self.uses.append((inp.get("entityName") or self.entity, inp.get("projectName"),
                          inp.get("runName"), inp.get("artifactID")))
        return {"useArtifact": {"artifact": {"id": inp.get("artifactID"), "digest": "",
                                             "description": None, "state": "COMMITTED",
                                             "createdAt": NOW, "metadata": "{}"}}}

    def op_ArtifactType(self, v, q):
        art = self.find_artifact(self._entity(v), v["project"], v["name"])
        return {"project": {"artifact": {"artifactType": {"name": art["type"]}} if art else None}}

    def op_FetchArtifactManifest(self, v, q):
        art = self.artifacts.get(v["id"])
        if not art:
            return {"artifact": None}
        url = self.base_url + art["manifest"]
        return {"artifact": {"currentManifest": {"file": {"directUrl": url}}}}

    def op_GetArtifactMembershipFileUrls(self, v, q):
        art = self.find_artifact(v["entity"], v["project"], f"{v['collection']}:{v['alias']}")
        if art is None:
            return {"project": None}
        edges = [{"node": {"__typename": "File", "name": name,
                           "directUrl": f"{self.base_url}/upload/artifact/{art['id']}/{name}"}}
                 for name in art["files"]]
        page = {"__typename": "PageInfo", "endCursor": None, "hasNextPage": False}
        return {"project": {"artifactCollection": {
            "__typename": "ArtifactSequence",
            "artifactMembership": {"files": {"pageInfo": page, "edges": edges}}}}}

    def op_GetDefaultEntity(self, v, q):
        return {"viewer": {"id": gid("User", 1), "entity": self.entity}}

    # sweeps (wandb.agent): commands handed out by Heartbeat, one per call
    def add_sweep(self, sweep_id, runs, config=None, entity=None, project="sslexp"):
        """runs: list of (run_id, {param: value}); the agent gets them in order, then 'exit'."""
        self.sweep_places[sweep_id] = (entity or self.entity, project)
        self.sweep_configs[sweep_id] = config or {"method": "grid", "parameters": {}}
        self.sweeps[sweep_id] = [{"type": "run", "run_id": run_id,
                                  "args": {k: {"value": val} for k, val in params.items()},
                                  "program": "train.py"} for run_id, params in runs]
        self.sweeps[sweep_id].append({"type": "exit"})

    def stop_run(self, run_name):
        """The first heartbeat that reports ``run_name`` running once the run has reached the
        server (``wandb.init``) tells its agent to stop it, as a user pressing the W&B UI's
        stop button on a run they can see."""
        self.to_stop.add(run_name)

    def op_UpsertSweep(self, v, q):
        import yaml

        sweep_id = f"swp{next(self.counter):05d}"
        entity, project = self._entity(v, "entityName"), v.get("projectName") or "uncategorized"
        self.sweep_places[sweep_id] = (entity, project)
        self.sweep_configs[sweep_id] = yaml.safe_load(v["config"])
        self.sweeps[sweep_id] = []
        return {"upsertSweep": {"sweep": {"name": sweep_id,
                                          "project": self._project(project, entity)},
                                "configValidationWarnings": []}}

    def op_CreateAgent(self, v, q):
        place = self.sweep_places.get(v["sweep"])
        if place != (self._entity(v, "entityName"), v.get("projectName")):
            self.problems.append(f"CreateAgent: sweep {v['sweep']} is in {place}, the agent "
                                 f"asked {v.get('entityName')}/{v.get('projectName')}")
        self.agent_sweep = v["sweep"]
        return {"createAgent": {"agent": {"id": gid("Agent", v["sweep"])}}}

    def op_Heartbeat(self, v, q):
        queue = self.sweeps.get(self.agent_sweep, [])
        running = json.loads(v.get("runState") or "{}")
        seen = {key[2] for key in self.runs}
        stops = [{"type": "stop", "run_id": name} for name in running
                 if name in self.to_stop and name in seen]
        if stops:
            self.to_stop -= {stop["run_id"] for stop in stops}
            return {"agentHeartbeat": {"agent": {"id": v["id"]}, "commands": json.dumps(stops)}}
        if running or not queue:          # hand out the next job only when idle
            return {"agentHeartbeat": {"agent": {"id": v["id"]}, "commands": "[]"}}
        return {"agentHeartbeat": {"agent": {"id": v["id"]},
                                   "commands": json.dumps([queue.pop(0)])}}

    # reports (wandb-workspaces' Report.save)
    def op_GetProjects(self, v, q):
        entity = self._entity(v)
        names = sorted({p for (e, p, _) in self.runs if e == entity}
                       | {p for e, p in self.sweep_places.values() if e == entity})
        page = {"__typename": "PageInfo", "endCursor": None, "hasNextPage": False}
        edges = [{"node": {"__typename": "Project", "id": gid("Project", name), "name": name,
                           "entityName": entity, "createdAt": NOW, "isBenchmark": False,
                           "user": None}} for name in names]
        return {"models": {"pageInfo": page, "edges": edges}}

    def op_ProjectInternalId(self, v, q):
        return {"project": {"id": gid("Project", v["projectName"]),
                            "internalId": gid("Project", v["projectName"])}}

    def op_upsertView(self, v, q):
        view_id = gid("View", next(self.counter))
        self.reports.append({"id": view_id, "entity": v["entityName"],
                             "project": v["projectName"], "type": v["type"],
                             "displayName": v["displayName"], "spec": json.loads(v["spec"])})
        return {"upsertView": {"view": {
            "id": view_id, "type": v["type"], "name": v["name"],
            "displayName": v["displayName"], "description": v["description"],
            "project": {"id": gid("Project", v["projectName"]), "name": v["projectName"],
                        "entityName": v["entityName"]},
            "spec": v["spec"], "updatedAt": NOW}, "inserted": True}}

    # ------------------------------------------------------------ read side
    # (what wandb.Api() asks for: runs, one run, run files, sweep, history, lineage)
    def _apply_file_stream(self, path, payload):
        _, _, entity, project, run_name, _ = path.split("/")
        with self.lock:
            run = self.runs.get((entity, project, run_name))
            if run is None:
                return
            files = payload.get("files") or {}
            summary = files.get("wandb-summary.json")
            if summary and summary.get("content"):
                run["summaryMetrics"] = summary["content"][-1]
            history = files.get("wandb-history.jsonl")
            if history:
                run.setdefault("history", []).extend(history.get("content") or [])
            if payload.get("complete"):
                run["state"] = "finished" if payload.get("exitcode", 0) == 0 else "failed"
                run["exitcode"] = payload.get("exitcode", 0)

    def _config_values(self, run):
        raw = json.loads(run.get("config") or "{}")
        return {k: (v.get("value") if isinstance(v, dict) and "value" in v else v)
                for k, v in raw.items() if k != "_wandb"}

    def _field(self, run, key):
        if key.startswith("config."):
            name = key[len("config."):].removesuffix(".value")
            return self._config_values(run).get(name)
        if key.startswith("summary_metrics."):
            return json.loads(run.get("summaryMetrics") or "{}").get(key.split(".", 1)[1])
        return {"group": run.get("groupName"), "jobType": run.get("jobType"),
                "sweep": run.get("sweep"), "state": run.get("state"), "name": run["name"],
                "displayName": run.get("displayName")}.get(key)

    def _matches(self, run, filters):
        for key, want in (filters or {}).items():
            if key == "$and":
                if not all(self._matches(run, f) for f in want):
                    return False
            elif key == "$or":
                if not any(self._matches(run, f) for f in want):
                    return False
            elif isinstance(want, dict):
                have = self._field(run, key)
                for op, val in want.items():
                    ok = {"$eq": have == val, "$ne": have != val,
                          "$in": have in val, "$nin": have not in val,
                          "$exists": (have is not None) == bool(val)}.get(op)
                    if ok is None:
                        raise NotImplementedError(op)
                    if not ok:
                        return False
            elif self._field(run, key) != want:
                return False
        return True

    def _run_node(self, project, run):
        return {"id": run["id"], "projectId": "1", "tags": [], "name": run["name"],
                "displayName": run.get("displayName"), "sweepName": run.get("sweep"),
                "state": run.get("state", "running"), "config": run.get("config") or "{}",
                "group": run.get("groupName"), "jobType": run.get("jobType"), "commit": None,
                "readOnly": False, "createdAt": NOW, "heartbeatAt": NOW, "description": None,
                "notes": None, "systemMetrics": "{}",
                "summaryMetrics": run.get("summaryMetrics") or "{}",
                "historyLineCount": len(run.get("history", [])),
                "user": {"name": "tester", "username": "tester"},
                "historyKeys": {"lastStep": len(run.get("history", [])) - 1}}

    def op_Runs(self, v, q):
        filters = json.loads(v.get("filters") or "{}")
        runs = [r for (e, p, _), r in self.runs.items()
                if (e, p) == (self._entity(v), v["project"]) and self._matches(r, filters)]
        return {"project": {"internalId": "1", "runCount": len(runs), "readOnly": False, "runs": {
            "edges": [{"node": self._run_node(v["project"], r), "cursor": r["name"]} for r in runs],
            "pageInfo": {"endCursor": None, "hasNextPage": False}}}}

    def op_Run(self, v, q):
        run = self.runs.get((self._entity(v), v["project"], v["name"]))
        return {"project": {"run": self._run_node(v["project"], run) if run else None}}

    def op_RunFiles(self, v, q):
        key = (self._entity(v), v["project"], v["name"])
        run = self.runs.get(key)
        names = [n for (e, p, r, n) in self.run_files if (e, p, r) == key]
        if v.get("fileNames"):
            names = [n for n in names if n in v["fileNames"]]
        paths = {n: self.run_files[(*key, n)] for n in names}
        edges = [{"node": {"id": gid("File", n), "name": n, "url": self.base_url + paths[n],
                           "directUrl": self.base_url + paths[n],
                           "sizeBytes": len(self.uploads.get(paths[n], b"")),
                           "mimetype": "application/json", "updatedAt": NOW, "md5": ""},
                  "cursor": n} for n in names]
        page = {"endCursor": None, "hasNextPage": False}
        return {"project": {"internalId": "1", "run": None if run is None else {
            "fileCount": len(edges), "files": {"edges": edges, "pageInfo": page}}}}

    def op_GetSweep(self, v, q):
        if self.sweep_places.get(v["name"]) != (self._entity(v), v.get("project")):
            return {"project": {"sweep": None}}
        config = json.dumps(self.sweep_configs.get(v["name"], {"method": "grid"}))
        return {"project": {"sweep": {
            "__typename": "Sweep", "id": gid("Sweep", v["name"]), "name": v["name"],
            "displayName": None, "method": "grid", "state": "FINISHED", "description": None,
            "bestLoss": None, "config": config, "createdAt": NOW, "updatedAt": NOW,
            "runCount": 0, "runCountExpected": None}}}

    def op_RunFullHistory(self, v, q):
        run = self.runs.get((self._entity(v), v["project"], v["name"])) or {}
        return {"project": {"run": {"history": run.get("history", [])}}}

    def _run_artifacts(self, v, used):
        place = (v["entity"], v["project"], v["run"])
        if used:
            ids = [aid for *used_by, aid in self.uses if tuple(used_by) == place]
        else:
            ids = [a["id"] for a in self.artifacts.values()
                   if (a["entity"], a["project"], a["run"]) == place]
        edges = [{"node": self._artifact_fragment(self.artifacts[i])} for i in ids]
        return {"project": {"run": {"artifacts": {
            "totalCount": len(edges), "edges": edges,
            "pageInfo": {"__typename": "PageInfo", "endCursor": None, "hasNextPage": False}}}}}

    def op_RunInputArtifacts(self, v, q):
        return self._run_artifacts(v, used=True)

    def op_RunOutputArtifacts(self, v, q):
        return self._run_artifacts(v, used=False)


class Recorder:
    def __init__(self):
        self.requests = []      # (method, path, operation, variables)
        self.lock = threading.Lock()

    def add(self, item):
        with self.lock:
            self.requests.append(item)


def operation_name(query: str) -> str:
    m = re.search(r"\b(query|mutation)\s+(\w+)", query or "")
    return m.group(2) if m else "?"


def make_handler(recorder: Recorder, answer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _body(self):
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def _send(self, code, payload: bytes, ctype="application/json"):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _rejected(self) -> bool:
            """A request whose API key (HTTP basic auth, user `api`) is not the server's."""
            expected = getattr(answer, "api_key", None)
            header = self.headers.get("Authorization") or ""
            if expected is None or not header.startswith("Basic "):
                return False
            sent = base64.b64decode(header[6:]).decode(errors="replace").partition(":")[2]
            if sent == expected:
                return False
            recorder.add(("REJECTED", self.path, None, None))
            self._body()
            self._send(401, b'{"errors": [{"message": "invalid api key"}]}')
            return True

        def do_GET(self):
            if self._rejected():
                return
            recorder.add(("GET", self.path, None, None))
            code, body = answer.http("GET", self.path, b"")
            self._send(code, body)

        def do_PUT(self):
            if self._rejected():
                return
            body = self._body()
            recorder.add(("PUT", self.path, None, len(body)))
            code, out = answer.http("PUT", self.path, body)
            self._send(code, out)

        def do_POST(self):
            if self._rejected():
                return
            body = self._body()
            if self.path.rstrip("/").endswith("/graphql"):
                payload = json.loads(body or b"{}")
                op = payload.get("operationName") or operation_name(payload.get("query", ""))
                variables = payload.get("variables") or {}
                recorder.add(("POST", self.path, op, variables))
                data = answer.graphql(op, payload.get("query", ""), variables)
                self._send(200, json.dumps(data).encode())
            else:
                recorder.add(("POST", self.path, None, body[:300]))
                code, out = answer.http("POST", self.path, body)
                self._send(code, out)
    return Handler


def serve(answer, port=0):
    recorder = Recorder()
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(recorder, answer))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, recorder


@contextlib.contextmanager
def fake_wandb(monkeypatch, tmp_path, entity: str = "tester"):
    """The fake server on a free loopback port and the environment that points the wandb
    client (and the processes started from here) at it; wandb is torn down around it."""
    import urllib.request

    import wandb

    backend = FakeBackend(entity=entity)
    backend.api_key = "k" * 40
    try:
        server, _ = serve(backend)
    except OSError as error:
        raise RuntimeError(f"the fake W&B server could not listen on 127.0.0.1: {error}") from error
    backend.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        opener.open(backend.base_url + "/ping", timeout=5).read()
    except OSError as error:
        server.shutdown()
        raise RuntimeError(f"the fake W&B server at {backend.base_url} does not answer: "
                           f"{error}") from error
    for name in ("WANDB_MODE", "WANDB_DISABLED", "WANDB_RUN_GROUP", "WANDB_SWEEP_ID",
                 "WANDB_RUN_ID", "WANDB_SWEEP_PARAM_PATH", "WANDB_DIR", "WANDB_PROJECT",
                 "WANDB_ENTITY", "WANDB_SERVICE", "SSLEXP_WANDB_MODE", "NETRC"):
        monkeypatch.delenv(name, raising=False)
    settings = {"WANDB_BASE_URL": backend.base_url, "WANDB_API_KEY": backend.api_key,
                "WANDB_SILENT": "true", "WANDB_INIT_TIMEOUT": "60",
                "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    for name in ("WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_CONFIG_DIR", "WANDB_ARTIFACT_DIR"):
        settings[name] = str(tmp_path / "wandb-home" / name.lower())
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    wandb.teardown()
    try:
        yield backend
    finally:
        wandb.teardown()
        server.shutdown()
        server.server_close()
