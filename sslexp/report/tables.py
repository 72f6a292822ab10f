"""The comparison as text: display strings (shared by HTML, Markdown and the
terminal), and CSV files holding the raw numbers."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from sslexp.report.collect import SweepData
from sslexp.report.comparison import METHODS, Comparison

HEADLINE_COLUMNS = (
    "label fraction", "labels", "ssl acc %", "scratch acc %", "ssl - scratch (pp)",
    "95% CI (pp)", "p (paired t)", "Holm p", "folds ssl > scratch (sign p)", "folds", "pairs",
)
DIFFERENCE_COLUMNS = ("ssl - scratch (pp)", "95% CI (pp)", "p (paired t)", "pairs")
EFFICIENCY_COLUMNS = (
    "label fraction", "ssl labels", "ssl acc %", "scratch labels to match", "ratio to ssl labels",
    "95% bootstrap CI",
)
RUN_COLUMNS = ("run_id", "state", "label_fraction", "method", "fold", "n_labels", "test_accuracy",
               "error")


def headline_rows(comparison: Comparison) -> list[dict[str, str]]:
    """One row of display strings per label fraction (accuracies in percent)."""
    rows = []
    for row in comparison.rows:
        rows.append({
            "label fraction": f"{row.label_fraction:g}",
            "labels": _count(row.n_labels.mean),
            "ssl acc %": _mean_std(row.accuracy["ssl"].mean, row.accuracy["ssl"].std),
            "scratch acc %": _mean_std(row.accuracy["scratch"].mean, row.accuracy["scratch"].std),
            **difference_cells(row.difference),
            "Holm p": _p_value(row.holm_p),
            "folds ssl > scratch (sign p)": _sign_cell(row.signs),
            "folds": str(row.folds),
        })
    return rows


def difference_cells(difference) -> dict[str, str]:
    """A paired difference as ``DIFFERENCE_COLUMNS`` display strings."""
    return {
        "ssl - scratch (pp)": _points(difference.mean, signed=True),
        "95% CI (pp)": (
            f"[{_points(difference.ci_low, True)}, {_points(difference.ci_high, True)}]"
            if _finite(difference.ci_low) else "n/a"),
        "p (paired t)": _p_value(difference.p_value),
        "pairs": str(difference.n_pairs),
    }


def _sign_cell(signs) -> str:
    """``5 of 5 (0.0625)``: folds where ssl won, of those with a nonzero difference."""
    if not signs.units:
        return "n/a"
    return f"{signs.positive} of {signs.units} ({_p_value(signs.p_value)})"


def count_text(value: float) -> str:
    return _count(value)


def efficiency_rows(comparison: Comparison) -> list[dict[str, str]]:
    """How many labels scratch needs to reach ssl's accuracy at each fraction."""
    rows = []
    for row in comparison.rows:
        efficiency = row.efficiency
        prefix = {"at_most": "<= ", "more_than": "> "}.get(efficiency.bound, "")
        known = efficiency.bound != "unknown" and _finite(efficiency.labels_needed)
        rows.append({
            "label fraction": f"{row.label_fraction:g}",
            "ssl labels": _count(row.labels_by_method["ssl"]),
            "ssl acc %": _points(row.accuracy["ssl"].mean),
            "scratch labels to match": (
                f"> max ({_count(efficiency.labels_needed)})" if efficiency.bound == "more_than"
                else prefix + _count(efficiency.labels_needed) if known else "n/a"),
            "ratio to ssl labels": (
                f"{prefix}{efficiency.ratio:.2f}x" if known and _finite(efficiency.ratio)
                else "n/a"),
            "95% bootstrap CI": _efficiency_interval(row.efficiency_interval, efficiency.bound),
        })
    return rows


def _efficiency_interval(interval, bound: str) -> str:
    """A bounded estimate (scratch never reaches ssl, or already does) bounds its interval too."""
    if not _finite(interval.low):
        return "n/a"
    low = f"{'<= ' if bound == 'at_most' else ''}{interval.low:.2f}x"
    high = f"{'> ' if bound == 'more_than' else ''}{interval.high:.2f}x"
    return f"[{low}, {high}]"


def run_rows(sweep: SweepData) -> list[dict]:
    """Every run with its raw numbers, for the inventory and runs.csv."""
    return [
        {
            "run_id": run.run_id, "state": run.state, "label_fraction": run.label_fraction,
            "method": run.method, "fold": run.fold, "n_labels": run.n_labels,
            "test_accuracy": run.test_accuracy, "error": run.error or "",
        }
        for run in sorted(sweep.runs, key=lambda run: (
            run.label_fraction if run.label_fraction is not None else math.inf,
            run.method or "", run.fold if run.fold is not None else -1, run.run_id))
    ]


def write_comparison_csv(comparison: Comparison, path: Path) -> Path:
    """The per-fraction numbers, unrounded (accuracies as fractions in [0, 1])."""
    fields = ["label_fraction", "n_labels_mean"]
    for method in METHODS:
        fields += [f"{method}_{name}" for name in ("n", "mean", "std", "min", "max", "n_labels")]
    fields += ["diff_n_pairs", "diff_mean", "diff_std", "diff_ci_low", "diff_ci_high",
               "t_statistic", "p_value", "holm_p_value", "scratch_labels_to_match_ssl",
               "label_efficiency_bound", "label_efficiency_ratio", "label_efficiency_ci_low",
               "label_efficiency_ci_high", "labels_per_class", "folds_positive",
               "folds_negative", "sign_test_p_value"]
    with path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=fields)
        writer.writeheader()
        for row in comparison.rows:
            record = {"label_fraction": row.label_fraction, "n_labels_mean": row.n_labels.mean}
            for method in METHODS:
                spread = row.accuracy[method]
                record.update({
                    f"{method}_n": spread.n, f"{method}_mean": spread.mean,
                    f"{method}_std": spread.std, f"{method}_min": spread.min,
                    f"{method}_max": spread.max, f"{method}_n_labels": row.labels_by_method[method],
                })
            difference, efficiency = row.difference, row.efficiency
            record.update({
                "diff_n_pairs": difference.n_pairs, "diff_mean": difference.mean,
                "diff_std": difference.std, "diff_ci_low": difference.ci_low,
                "diff_ci_high": difference.ci_high, "t_statistic": difference.t_statistic,
                "p_value": difference.p_value,
                "scratch_labels_to_match_ssl": efficiency.labels_needed,
                "label_efficiency_bound": efficiency.bound,
                "label_efficiency_ratio": efficiency.ratio,
                "holm_p_value": row.holm_p,
                "label_efficiency_ci_low": row.efficiency_interval.low,
                "label_efficiency_ci_high": row.efficiency_interval.high,
                "labels_per_class": row.labels_per_class,
                "folds_positive": row.signs.positive, "folds_negative": row.signs.negative,
                "sign_test_p_value": row.signs.p_value,
            })
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
    lines = ["  ".join(c.ljust(widths[c]) for c in columns),
             "  ".join("-" * widths[c] for c in columns)]
    lines += ["  ".join(str(row[c]).ljust(widths[c]) for c in columns) for row in rows]
    return "\n".join(lines)


def markdown_table(rows: list[dict], columns) -> str:
    """A GitHub Markdown table; cell text is escaped so configs cannot inject markup."""
    columns = list(columns)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(markdown_escape(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)


def markdown_escape(value) -> str:
    text = "" if value is None else str(value)
    for raw, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|"),
                         ("\n", " ")):
        text = text.replace(raw, escaped)
    return text


def _finite(value) -> bool:
    return value is not None and math.isfinite(value)


def _mean_std(mean: float, std: float) -> str:
    if not _finite(mean):
        return "n/a"
    return f"{100 * mean:.2f} ± {100 * std:.2f}" if _finite(std) else f"{100 * mean:.2f}"


def _points(value: float, signed: bool = False) -> str:
    if not _finite(value):
        return "n/a"
    return f"{100 * value:+.2f}" if signed else f"{100 * value:.2f}"


def _p_value(value: float) -> str:
    if not _finite(value):
        return "n/a"
    return f"{value:.2g}" if value < 0.001 else f"{value:.3f}"


def _count(value: float) -> str:
    return f"{value:,.0f}" if _finite(value) else "n/a"
