"""The comparison's numbers as a W&B run (job type ``comparison``), for the W&B Report's panels.

W&B cannot compute a paired difference, an interval or a p-value, and its
grouped line plots bucket the x axis, so the numbers come from
``sslexp.report.comparison`` (the same as the HTML report's) and are logged:
one history row per label count (x ``labels``) with each method's mean and
band (mean +- one sample std, as the local figure draws it) and the paired
difference with its interval, plus two Tables, ``paired_differences`` (one
row per label fraction: difference, interval, p-value) and ``paired_folds``
(one row per fold).
"""

from __future__ import annotations

from collections.abc import Sequence

from sslexp.report.comparison import METHODS, Comparison
from sslexp.runs.protocol import COMPARISON_JOB
from sslexp.report.format import finite, optional_number

LABELS = "labels"
DIFFERENCES_TABLE = "paired_differences"
FOLDS_TABLE = "paired_folds"
DIFFERENCE_COLUMNS = ("label_fraction", "labels", "ssl_accuracy", "scratch_accuracy",
                      "difference", "ci_low", "ci_high", "p_value", "pairs")
FOLD_COLUMNS = ("label_fraction", "fold", "ssl_accuracy", "scratch_accuracy", "difference")


def band_keys(method: str) -> tuple[str, str, str]:
    return f"{method}/accuracy_mean", f"{method}/accuracy_low", f"{method}/accuracy_high"


DIFFERENCE_KEYS = ("difference/mean", "difference/ci_low", "difference/ci_high")


def history_rows(comparison: Comparison) -> list[dict]:
    """One row per label fraction, by increasing label count; non-finite values left out."""
    rows = []
    for row in comparison.rows:
        values = {LABELS: row.n_labels.mean, "label_fraction": row.label_fraction}
        for method in METHODS:
            spread = row.accuracy[method]
            std = spread.std if finite(spread.std) else 0.0
            values.update(zip(band_keys(method), (spread.mean, spread.mean - std,
                                                  spread.mean + std)))
        difference = row.difference
        values.update(zip(DIFFERENCE_KEYS, (difference.mean, difference.ci_low,
                                            difference.ci_high)))
        values["difference/p_value"] = difference.p_value
        rows.append({key: value for key, value in values.items() if finite(value)})
    return sorted((row for row in rows if LABELS in row), key=lambda row: row[LABELS])


def difference_rows(comparison: Comparison) -> list[list]:
    return [[row.label_fraction,
             *map(optional_number, (row.n_labels.mean, row.accuracy["ssl"].mean,
                                    row.accuracy["scratch"].mean, row.difference.mean,
                                    row.difference.ci_low, row.difference.ci_high,
                                    row.difference.p_value)),
             row.difference.n_pairs]
            for row in comparison.rows]


def fold_rows(comparison: Comparison) -> list[list]:
    rows = []
    for row in comparison.rows:
        ssl, scratch = row.accuracy_by_fold["ssl"], row.accuracy_by_fold["scratch"]
        for fold in sorted(set(ssl) & set(scratch) - {-1}):
            rows.append([row.label_fraction, fold, ssl[fold], scratch[fold],
                         ssl[fold] - scratch[fold]])
    return rows


def log_comparison(run, comparison: Comparison, verdict: Sequence[str] | None = None,
                   warnings: Sequence[str] = ()) -> None:
    """Write the comparison into ``run`` (a ``wandb.init`` run)."""
    import wandb

    run.define_metric(LABELS)
    for prefix in (*METHODS, "difference"):
        run.define_metric(f"{prefix}/*", step_metric=LABELS)
    for row in history_rows(comparison):
        run.log(row)
    run.log({DIFFERENCES_TABLE: wandb.Table(columns=list(DIFFERENCE_COLUMNS),
                                            data=difference_rows(comparison)),
             FOLDS_TABLE: wandb.Table(columns=list(FOLD_COLUMNS), data=fold_rows(comparison))})
    if verdict:
        run.summary["verdict"] = " ".join(verdict)
    if warnings:
        run.summary["warnings"] = list(warnings)


def comparison_run(entity: str, project: str, *, name: str, group: str | None, config: dict):
    """The online run the comparison is logged to (W&B Reports live on the server)."""
    import wandb

    return wandb.init(mode="online", entity=entity, project=project, job_type=COMPARISON_JOB,
                      name=name, group=group, config=config, reinit="finish_previous")
