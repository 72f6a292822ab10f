"""The tuning sweeps' results page: the grid, each arm's winner and how clearly it won,
every candidate's validation accuracy, every run, and where and how long it ran.

Test accuracy is not on the page: tuning never looked at it, and showing it beside
the candidates would invite choosing by it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sslexp.report.budgets import cap_hit
from sslexp.report.collect import SweepRun, collect_sweep, find_pretrains
from sslexp.report.format import count, percent, points
from sslexp.report.results_page import backbone_line, measure, provenance_lines
from sslexp.report.tables import markdown_table
from sslexp.runs.record import as_float, write_atomic
from sslexp.tuning import TUNED_FIELDS

CANDIDATE_COLUMNS = ("rank", "lr", "augment", "weight decay")
RUN_COLUMNS = (
    "method",
    "label fraction",
    "lr",
    "augment",
    "weight decay",
    "val acc %",
    "updates",
    "best update",
    "cap hit",
)


def _cell(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def candidate_rows(runs: list[SweepRun], winners: dict, method: str) -> list[dict]:
    """The method's candidates in the winners' order, validation accuracy per fraction."""
    fractions = winners["label_fractions"]
    rows = []
    for rank, candidate in enumerate(winners["candidates"][method], start=1):
        row = {
            "rank": str(rank),
            "lr": _cell(candidate["lr"]),
            "augment": _cell(candidate["augment"]),
            "weight decay": _cell(candidate["weight_decay"]),
        }
        for fraction in fractions:
            values = [
                as_float(run.record.best_val_accuracy)
                for run in runs
                if run.method == method
                and run.label_fraction == fraction
                and all(run.config.get(name) == candidate[name] for name in TUNED_FIELDS)
            ]
            row[_fraction_column(fraction)] = percent(np.mean(values)) if values else "n/a"
        row["mean val acc %"] = percent(candidate["val_accuracy"])
        rows.append(row)
    return rows


def _fraction_column(fraction: float) -> str:
    return f"val acc % at {fraction:g}"


def margin_sentence(winners: dict, method: str) -> str:
    """How far the winner is ahead of the runner-up, in validation points."""
    ranked = winners["candidates"][method]
    chosen = _settings(ranked[0])
    if len(ranked) < 2:
        return f"{method}: {chosen} (the only candidate)."
    ahead = ranked[0]["val_accuracy"] - ranked[1]["val_accuracy"]
    return (
        f"{method}: {chosen}; mean validation accuracy {percent(ranked[0]['val_accuracy'])}%, "
        f"{points(ahead)} points ahead of the runner-up "
        f"({_settings(ranked[1])})."
    )


def _settings(candidate: dict) -> str:
    return ", ".join(f"{name.replace('_', ' ')} {_cell(candidate[name])}" for name in TUNED_FIELDS)


def run_rows(runs: list[SweepRun]) -> list[dict]:
    rows = []
    for run in sorted(
        runs, key=lambda run: (run.method or "", run.label_fraction or 0, run.run_id)
    ):
        training = (run.record.training if run.record else None) or {}
        hit = cap_hit(run)
        rows.append(
            {
                "method": run.method or "",
                "label fraction": f"{run.label_fraction:g}",
                "lr": _cell(run.config.get("lr")),
                "augment": _cell(run.config.get("augment")),
                "weight decay": _cell(run.config.get("weight_decay")),
                "val acc %": percent(run.record.best_val_accuracy if run.record else None),
                "updates": count(as_float(training.get("updates"))),
                "best update": count(as_float(training.get("best_update"))),
                "cap hit": {True: "YES", False: "no", None: "n/a"}[hit],
            }
        )
    return rows


def tuning_page(winners: dict, sweep_dirs: list[Path], winners_file: Path, command: str) -> str:
    """The page's Markdown."""
    sweeps = [collect_sweep(directory) for directory in sweep_dirs]
    runs = [run for sweep in sweeps for run in sweep.runs if run.state == "finished"]
    lines = [
        "# Tuning: ssl and scratch on the tuning fold",
        "",
        "Reproduce (offline):",
        "",
        "```bash",
        command,
        "```",
        "",
    ]
    lines += [
        "Both sweeps: "
        + ", ".join(f"`{sweep.name}` ({len(sweep.runs)} runs)" for sweep in sweeps)
        + ".",
        "",
        *provenance_lines(
            measure(
                [run for sweep in sweeps for run in sweep.runs],
                [pretrain for sweep in sweeps for pretrain in find_pretrains(sweep)],
            )
        ),
        *filter(None, (backbone_line(find_pretrains(sweep)) for sweep in sweeps)),
        "",
    ]
    lines += [
        "## Winners",
        "",
        f"Written to `{winners_file}`, which the studies name (`tuned:`). Chosen by "
        f"{winners['chosen_by']}.",
        "",
        *[f"- {margin_sentence(winners, method)}" for method in winners["methods"]],
        "",
        "Validation subsets are small (a fifth of the labelled images: 10 images at 60 "
        "labels, 60 at 300), so candidates a point or two apart are not distinguishable; "
        "the winner is the best guess on the tuning fold, given to each arm by the same rule.",
        "",
        "## The grid",
        "",
        *[
            f"- {name}: {', '.join(_cell(value) for value in values)}"
            for name, values in winners["grid"].items()
        ],
        f"- label fractions: {', '.join(f'{f:g}' for f in winners['label_fractions'])}; "
        f"fold {winners['fold']} of {winners['folds']}; runs per method: "
        + ", ".join(f"{m} {n}" for m, n in winners["runs_per_method"].items()),
        "",
    ]
    columns = [
        *CANDIDATE_COLUMNS,
        *map(_fraction_column, winners["label_fractions"]),
        "mean val acc %",
    ]
    for method in winners["candidates"]:
        lines += [
            f"## Candidates: {method}",
            "",
            markdown_table(candidate_rows(runs, winners, method), columns),
            "",
        ]
    rows = run_rows(runs)
    capped = sum(row["cap hit"] == "YES" for row in rows)
    lines += [
        "## Every run",
        "",
        f"Validation accuracy at the update each run kept. {capped} of {len(rows)} runs "
        "reached their update cap while still improving.",
        "",
        markdown_table(rows, RUN_COLUMNS),
        "",
    ]
    return "\n".join(lines)


def write_tuning_page(
    page: Path, winners: dict, sweep_dirs: list[Path], winners_file: Path, command: str
) -> Path:
    """Write the page whole or not at all."""
    return write_atomic(page, tuning_page(winners, sweep_dirs, winners_file, command).encode())
