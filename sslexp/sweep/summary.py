"""The table printed when a local sweep ends: one row per run, then the counts."""

from __future__ import annotations

import datetime
from collections import Counter
from pathlib import Path
from typing import Any

from sslexp.data.folder import skipped_files_line
from sslexp.sweep.ledger import STATES, Ledger
from sslexp.sweep.spec import metric_from_results


def varying_parameters(runs: dict[str, dict[str, Any]]) -> list[str]:
    """Parameters whose value differs between runs (the constant ones are noise)."""
    values: dict[str, set[str]] = {}
    for entry in runs.values():
        for name, value in entry["config"].items():
            values.setdefault(name, set()).add(repr(value))
    return [name for name, seen in values.items() if len(seen) > 1]


def state_counts(runs: dict[str, dict[str, Any]]) -> Counter:
    return Counter(entry["state"] for entry in runs.values())


def format_summary(
    sweep_dir: Path,
    ledger: dict[str, Any],
    metric_name: str | None,
    columns: list[str] | None = None,
) -> str:
    """A plain-text table of the sweep's runs, sorted by their parameters.

    ``columns`` are the parameters shown (default: those that differ between runs).
    """
    runs = ledger.get("runs", {})
    if not runs:
        return "No runs yet."
    columns = columns or varying_parameters(runs)
    in_percent = bool(metric_name) and is_accuracy(metric_name)
    metric_label = (metric_name or "metric") + (" %" if in_percent else "")
    header = ["run", *columns, "state", "exit", metric_label, "minutes", "tries"]
    rows = []
    for run_id, entry in sorted(
        runs.items(), key=lambda item: _sort_key(item[1]["config"], columns)
    ):
        record = Ledger(sweep_dir).record_of(entry)
        metric = (
            metric_from_results(record.to_json() if record else None, metric_name)
            if (metric_name and entry["state"] == "finished")
            else None
        )
        rows.append(
            [
                entry.get("name") or run_id,
                *[_format_value(entry["config"].get(name)) for name in columns],
                entry["state"],
                "" if entry.get("exit_code") is None else str(entry["exit_code"]),
                _format_metric(metric, in_percent),
                _minutes(entry.get("started_at"), entry.get("finished_at")),
                str(entry.get("attempts", "")),
            ]
        )
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip()
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    counts = state_counts(runs)
    lines.append("")
    lines.append(
        ", ".join(f"{counts[state]} {state}" for state in STATES if counts[state])
        + f" ({len(runs)} runs)"
    )
    failed = [
        (run_id, e)
        for run_id, e in runs.items()
        if e["state"] in ("failed", "interrupted") and e.get("error")
    ]
    for run_id, entry in failed:
        lines.append(f"{entry.get('name') or run_id} {entry['state']}: {entry['error']}")
    skipped = skipped_files_line(Ledger(sweep_dir).record_of(entry) for entry in runs.values())
    if skipped:
        lines.append(skipped)
    return "\n".join(lines)


def is_accuracy(metric_name: str) -> bool:
    """Accuracies are shown in percent on the console, as everywhere else."""
    return "acc" in metric_name.rsplit("/", 1)[-1].lower()


def _format_metric(value: Any, in_percent: bool) -> str:
    if value is None:
        return ""
    if in_percent and isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{100 * value:.2f}"
    return _format_value(value)


def _sort_key(config: dict[str, Any], columns: list[str]) -> tuple:
    return tuple(_orderable(config.get(name)) for name in columns)


def _orderable(value: Any) -> tuple:
    """Numbers in numeric order first, then everything else by its text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value, "")
    return (1, 0, str(value))


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def _minutes(started_at: str | None, finished_at: str | None) -> str:
    if not started_at or not finished_at:
        return ""
    elapsed = datetime.datetime.fromisoformat(finished_at) - datetime.datetime.fromisoformat(
        started_at
    )
    return f"{elapsed.total_seconds() / 60:.1f}"
