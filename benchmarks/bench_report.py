"""Rows of results, the machine they were measured on, and their Markdown form.

A benchmark number is only worth keeping next to the machine, library
versions, revision and command that produced it, so all of them go into the
same file.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import platform
import shlex
import sys
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class Row:
    """One line of the results table."""

    section: str
    measurement: str
    result: str
    target: str = ""
    note: str = ""


def cpu_model() -> str:
    """The CPU model name as the kernel reports it (platform.processor() is often empty)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_names() -> list[str]:
    """Names of the NVIDIA GPUs the driver lists (empty where there is none)."""
    import shutil
    import subprocess

    if shutil.which("nvidia-smi") is None:
        return []
    try:
        listed = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return (
        [line.strip() for line in listed.stdout.splitlines() if line.strip()]
        if listed.returncode == 0
        else []
    )


def backend_versions() -> dict[str, str]:
    """Versions of the other Keras backends' libraries that are installed."""
    import importlib.metadata

    found = {}
    for name in ("jax", "jaxlib", "torch"):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def describe_machine() -> dict[str, str]:
    """CPU, cores, memory, accelerators, versions, revision and date, as table cells."""
    import psutil

    from sslexp.runs.provenance import git_revision, versions

    git = git_revision()
    revision = git["revision"] or "unknown"
    if git["dirty"]:
        revision += " (with uncommitted changes)"
    physical = psutil.cpu_count(logical=False)
    load = ", ".join(f"{value:.1f}" for value in psutil.getloadavg())
    return {
        "CPU": cpu_model(),
        "cores": f"{os.cpu_count()} logical, {physical} physical",
        "RAM": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "GPU": ", ".join(gpu_names()) or "none",
        "OS": platform.platform(),
        "libraries": ", ".join(
            f"{name} {version}" for name, version in {**versions(), **backend_versions()}.items()
        ),
        "git revision": revision,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load average at start (1, 5, 15 min)": load,
    }


def command_line() -> str:
    """The command as it was typed, so the table can be reproduced."""
    return "python " + shlex.join(sys.argv)


def escape(cell: str) -> str:
    return str(cell).replace("|", "\\|").replace("\n", " ")


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(escape(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def results_table(rows: list[Row]) -> str:
    return markdown_table(
        ["Section", "Measurement", "Result", "Target", "Notes"],
        [[r.section, r.measurement, r.result, r.target, r.note] for r in rows],
    )


def render_markdown(
    machine: dict[str, str], command: str, settings: list[str], rows: list[Row], elapsed_s: float
) -> str:
    """The whole RESULTS.md: machine, command, settings, then the results table."""
    machine_table = markdown_table(
        ["Machine", ""], [[key, value] for key, value in machine.items()]
    )
    parts = [
        "# sslexp benchmarks",
        "",
        "Written by `benchmarks/bench.py`. Ratios come from variants timed interleaved in one "
        "process (A B C, B C A, ...), so that machine noise hits them alike; absolute rates on "
        "a shared 2-core machine vary up to 3x between identical runs.",
        "",
        machine_table,
        "",
        f"Command: `{command}` (took {elapsed_s / 60:.1f} min)",
        "",
        "Settings:",
        "",
        *[f"- {line}" for line in settings],
        "",
        results_table(rows),
        "",
    ]
    return "\n".join(parts)


def carried_over(
    previous: str, measured_sections: set[str], settings: list[str]
) -> tuple[list[Row], list[str]]:
    """From an earlier RESULTS.md: the rows of the sections this run did not measure and
    the settings lines this run did not write (the machine's load then included), each
    marked with the earlier run's date and revision (only sections run together are
    comparable)."""
    cells = {}
    rows = []
    for line in previous.splitlines():
        parts = [part.strip() for part in line.strip().strip("|").split(" | ")]
        if len(parts) == 2:
            cells[parts[0]] = parts[1]
        elif len(parts) == 5 and parts[0] not in ("Section", "---"):
            rows.append(parts)
    origin = (
        f"carried over from the run of {cells.get('date', 'an unknown date')}, "
        f"revision {cells.get('git revision', 'unknown')[:12]}"
    )
    kept_rows = [
        Row(section, measurement, result, target, f"{origin}; {note}" if note else origin)
        for section, measurement, result, target, note in rows
        if section not in measured_sections
    ]
    labels = {line.split(":", 1)[0] for line in settings}
    start_load = "load average at start (1, 5, 15 min)"
    kept_settings = [f"{start_load}: {cells[start_load]} ({origin})"] if start_load in cells else []
    kept_settings += [
        f"{line[2:]} ({origin})"
        for line in previous.splitlines()
        if line.startswith("- ") and ":" in line and line[2:].split(":", 1)[0] not in labels
    ]
    return kept_rows, kept_settings
