"""Where the numbers came from: library versions, git revisions and split
fingerprints recorded by the runs, plus the sweep definition itself."""

from __future__ import annotations

import platform
from collections import Counter
from dataclasses import dataclass
from importlib import metadata

from sslexp.report.collect import SweepData

REPORT_LIBRARIES = ("sslexp", "numpy", "scipy", "matplotlib", "jinja2", "wandb", "wandb-workspaces")


@dataclass
class Provenance:
    versions: dict[str, list[str]]
    git_revisions: list[dict]
    split_fingerprints: list[dict]
    dataset_fingerprints: list[str]
    hostnames: list[str]
    sweep_yaml: str | None
    report_environment: dict[str, str]

    @property
    def pairs_share_splits(self) -> bool | None:
        """True when every fold's ssl and scratch runs used the same labelled subset."""
        checked = [row["same"] for row in self.split_fingerprints if row["same"] is not None]
        return all(checked) if checked else None


def gather(sweep: SweepData) -> Provenance:
    versions: dict[str, set[str]] = {}
    revisions: Counter = Counter()
    dataset_fingerprints: set[str] = set()
    hostnames: set[str] = set()
    splits: dict[tuple, dict[str, str]] = {}
    for run in sweep.runs:
        if run.record is None:
            continue
        provenance = run.record.provenance or {}
        for library, version in (provenance.get("versions") or {}).items():
            if version is not None:
                versions.setdefault(str(library), set()).add(str(version))
        git = provenance.get("git") or {}
        if git.get("revision"):
            revisions[(str(git["revision"]), bool(git.get("dirty")))] += 1
        if provenance.get("hostname"):
            hostnames.add(str(provenance["hostname"]))
        split = run.record.split_view
        if split.dataset_fingerprint:
            dataset_fingerprints.add(str(split.dataset_fingerprint))
        if split.fingerprint and run.label_fraction is not None and run.method:
            key = (run.label_fraction, run.fold)
            splits.setdefault(key, {})[run.method] = str(split.fingerprint)
    split_rows = []
    for (fraction, fold), by_method in sorted(
        splits.items(), key=lambda item: (item[0][0], item[0][1] if item[0][1] is not None else -1)
    ):
        ssl, scratch = by_method.get("ssl"), by_method.get("scratch")
        split_rows.append(
            {
                "label_fraction": fraction,
                "fold": fold,
                "ssl": ssl or "",
                "scratch": scratch or "",
                "same": (ssl == scratch) if ssl and scratch else None,
            }
        )
    return Provenance(
        versions={library: sorted(found) for library, found in sorted(versions.items())},
        git_revisions=[
            {"revision": revision, "dirty": dirty, "runs": count}
            for (revision, dirty), count in revisions.most_common()
        ],
        split_fingerprints=split_rows,
        dataset_fingerprints=sorted(dataset_fingerprints),
        hostnames=sorted(hostnames),
        sweep_yaml=sweep.sweep_yaml,
        report_environment=report_environment(),
    )


def report_environment() -> dict[str, str]:
    """Versions of what drew this report (they can differ from what trained the runs)."""
    found = {"python": platform.python_version()}
    for library in REPORT_LIBRARIES:
        try:
            found[library] = metadata.version(library)
        except metadata.PackageNotFoundError:
            found[library] = "not installed"
    return found
