"""The comparison as text: display strings (shared by HTML, Markdown and the
terminal), and CSV files holding the raw numbers."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from sslexp.report.collect import SweepData
from sslexp.report.comparison import METHODS, Comparison
from sslexp.report.format import count, finite, mean_std, p_value, points, ratio

HEADLINE_COLUMNS = (
    "label fraction",
    "labels",
    "ssl acc %",
    "scratch acc %",
    "ssl - scratch (pp)",
    "95% CI (pp)",
    "p (paired t)",
    "Holm p",
    "folds ssl > scratch (sign p)",
    "folds",
    "pairs",
)
DIFFERENCE_COLUMNS = ("ssl - scratch (pp)", "95% CI (pp)", "p (paired t)", "pairs")
EFFICIENCY_COLUMNS = (
    "label fraction",
    "ssl labels",
    "ssl acc %",
    "scratch labels to match",
    "ratio to ssl labels",
    "95% bootstrap CI",
)
RUN_COLUMNS = (
    "run_id",
    "state",
    "label_fraction",
    "method",
    "fold",
    "n_labels",
    "test_accuracy",
    "error",
)


def headline_rows(comparison: Comparison) -> list[dict[str, str]]:
    """One row of display strings per label fraction (accuracies in percent)."""
    rows = []
    for row in comparison.rows:
        rows.append(
            {
                "label fraction": f"{row.label_fraction:g}",
                "labels": count(row.n_labels.mean),
                "ssl acc %": mean_std(row.accuracy["ssl"].mean, row.accuracy["ssl"].std),
                "scratch acc %": mean_std(
                    row.accuracy["scratch"].mean, row.accuracy["scratch"].std
                ),
                **difference_cells(row.difference),
                "Holm p": p_value(row.holm_p),
                "folds ssl > scratch (sign p)": _sign_cell(row.signs),
                "folds": str(row.folds),
            }
        )
    return rows


def difference_cells(difference) -> dict[str, str]:
    """A paired difference as ``DIFFERENCE_COLUMNS`` display strings."""
    return {
        "ssl - scratch (pp)": points(difference.mean, signed=True),
        "95% CI (pp)": (
            f"[{points(difference.ci_low, True)}, {points(difference.ci_high, True)}]"
            if finite(difference.ci_low)
            else "n/a"
        ),
        "p (paired t)": p_value(difference.p_value),
        "pairs": str(difference.n_pairs),
    }


def _sign_cell(signs) -> str:
    """``5 of 5 (0.0625)``: folds where ssl won, of those with a nonzero difference."""
    if not signs.units:
        return "n/a"
    return f"{signs.positive} of {signs.units} ({p_value(signs.p_value)})"


def efficiency_rows(comparison: Comparison) -> list[dict[str, str]]:
    """How many labels scratch needs to reach ssl's accuracy at each fraction. An estimate or
    an interval end at the edge of the scratch curve is a bound, and printed as one."""
    scratch_labels = [
        row.labels_by_method["scratch"]
        for row in comparison.rows
        if row.accuracy["scratch"].n and finite(row.labels_by_method["scratch"])
    ]
    rows = []
    for row in comparison.rows:
        efficiency = row.efficiency
        prefix = {"at_most": "<= ", "more_than": "> "}.get(efficiency.bound, "")
        known = efficiency.bound != "unknown" and finite(efficiency.labels_needed)
        ssl_labels = row.labels_by_method["ssl"]
        rows.append(
            {
                "label fraction": f"{row.label_fraction:g}",
                "ssl labels": count(ssl_labels),
                "ssl acc %": points(row.accuracy["ssl"].mean),
                "scratch labels to match": (
                    f"> max ({count(efficiency.labels_needed)})"
                    if efficiency.bound == "more_than"
                    else prefix + count(efficiency.labels_needed)
                    if known
                    else "n/a"
                ),
                "ratio to ssl labels": ratio(efficiency.ratio, prefix) if known else "n/a",
                "95% bootstrap CI": _efficiency_interval(
                    row.efficiency_interval,
                    *(_clamps(scratch_labels, ssl_labels) if scratch_labels else (math.nan,) * 2),
                ),
            }
        )
    return rows


def _clamps(scratch_labels: list[float], ssl_labels: float) -> tuple[float, float]:
    """The smallest and largest ratio the scratch curve can give: a resample below its first
    point or above its last enters the bootstrap at these values."""
    if not finite(ssl_labels) or not ssl_labels:
        return math.nan, math.nan
    return min(scratch_labels) / ssl_labels, max(scratch_labels) / ssl_labels


def _efficiency_interval(interval, lowest: float, highest: float) -> str:
    """An interval end at a clamp is a bound: "<= 1.00x" (scratch already matched ssl with its
    fewest labels), "> 1.52x" (scratch never matched ssl)."""
    if not finite(interval.low):
        return "n/a"

    def end(value: float) -> str:
        if finite(lowest) and value <= lowest * (1 + 1e-9):
            return ratio(value, "<= ")
        if finite(highest) and value >= highest * (1 - 1e-9):
            return ratio(value, "> ")
        return ratio(value)

    return f"[{end(interval.low)}, {end(interval.high)}]"


def run_rows(sweep: SweepData) -> list[dict]:
    """Every run with its raw numbers, for the inventory and runs.csv."""
    return [
        {
            "run_id": run.run_id,
            "state": run.state,
            "label_fraction": run.label_fraction,
            "method": run.method,
            "fold": run.fold,
            "n_labels": run.n_labels,
            "test_accuracy": run.test_accuracy,
            "error": run.error or "",
        }
        for run in sorted(
            sweep.runs,
            key=lambda run: (
                run.label_fraction if run.label_fraction is not None else math.inf,
                run.method or "",
                run.fold if run.fold is not None else -1,
                run.run_id,
            ),
        )
    ]


def write_comparison_csv(comparison: Comparison, path: Path) -> Path:
    """The per-fraction numbers, unrounded (accuracies as fractions in [0, 1])."""
    fields = ["label_fraction", "n_labels_mean"]
    for method in METHODS:
        fields += [f"{method}_{name}" for name in ("n", "mean", "std", "min", "max", "n_labels")]
    fields += [
        "diff_n_pairs",
        "diff_mean",
        "diff_std",
        "diff_ci_low",
        "diff_ci_high",
        "t_statistic",
        "p_value",
        "holm_p_value",
        "scratch_labels_to_match_ssl",
        "label_efficiency_bound",
        "label_efficiency_ratio",
        "label_efficiency_ci_low",
        "label_efficiency_ci_high",
        "labels_per_class",
        "folds_positive",
        "folds_negative",
        "sign_test_p_value",
    ]
    with path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=fields)
        writer.writeheader()
        for row in comparison.rows:
            record = {"label_fraction": row.label_fraction, "n_labels_mean": row.n_labels.mean}
            for method in METHODS:
                spread = row.accuracy[method]
                record.update(
                    {
                        f"{method}_n": spread.n,
                        f"{method}_mean": spread.mean,
                        f"{method}_std": spread.std,
                        f"{method}_min": spread.min,
                        f"{method}_max": spread.max,
                        f"{method}_n_labels": row.labels_by_method[method],
                    }
                )
            difference, efficiency = row.difference, row.efficiency
            record.update(
                {
                    "diff_n_pairs": difference.n_pairs,
                    "diff_mean": difference.mean,
                    "diff_std": difference.std,
                    "diff_ci_low": difference.ci_low,
                    "diff_ci_high": difference.ci_high,
                    "t_statistic": difference.t_statistic,
                    "p_value": difference.p_value,
                    "scratch_labels_to_match_ssl": efficiency.labels_needed,
                    "label_efficiency_bound": efficiency.bound,
                    "label_efficiency_ratio": efficiency.ratio,
                    "holm_p_value": row.holm_p,
                    "label_efficiency_ci_low": row.efficiency_interval.low,
                    "label_efficiency_ci_high": row.efficiency_interval.high,
                    "labels_per_class": row.labels_per_class,
                    "folds_positive": row.signs.positive,
                    "folds_negative": row.signs.negative,
                    "sign_test_p_value": row.signs.p_value,
                }
            )
            writer.writerow(record)
    return path


def write_runs_csv(sweep: SweepData, path: Path) -> Path:
    with path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=RUN_COLUMNS)
        writer.writeheader()
        writer.writerows(run_rows(sweep))
    return path


def text_table(rows: list[dict[str, str]], columns=None) -> str:
    """A plain aligned table for the terminal."""
    columns = list(columns or (rows[0].keys() if rows else []))
    if not rows:
        return "(no finished runs)"
    widths = {c: max(len(c), *(len(str(row[c])) for row in rows)) for c in columns}
    lines = [
        "  ".join(c.ljust(widths[c]) for c in columns),
        "  ".join("-" * widths[c] for c in columns),
    ]
    lines += ["  ".join(str(row[c]).ljust(widths[c]) for c in columns) for row in rows]
    return "\n".join(lines)


def markdown_table(rows: list[dict], columns) -> str:
    """A GitHub Markdown table; cell text is escaped so configs cannot inject markup. Headers
    read as words (``label_fraction`` -> "label fraction")."""
    columns = list(columns)
    lines = [
        "| " + " | ".join(markdown_escape(c).replace("_", " ") for c in columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for row in rows:
        lines.append("| " + " | ".join(markdown_escape(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)


def markdown_escape(value) -> str:
    text = "" if value is None else str(value)
    for raw, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|"), ("\n", " ")):
        text = text.replace(raw, escaped)
    return text
