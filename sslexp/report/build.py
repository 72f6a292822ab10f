"""``build_local_report``: a sweep directory in, report.html + report.md + CSVs out.

Runs that cannot be compared (another data set, image size, architecture,
budget rule...) are told apart first (``sslexp.report.experiments``); each
experiment gets its own report, opening with its verdict.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path

from sslexp.report import plots, tables
from sslexp.report.budgets import BUDGET_COLUMNS, budget_rows, run_facts
from sslexp.report.classes import gain_columns, gain_rows, per_class_gains
from sslexp.report.collect import (
    BaselineError,
    PretrainRun,
    SweepData,
    add_baseline,
    collect_sweep,
    find_pretrains,
)
from sslexp.report.comparison import Comparison, compare, compare_volumes
from sslexp.report.experiments import (
    Experiment,
    choose,
    directory_name,
    group_experiments,
    restrict,
)
from sslexp.report.format import count, percent, shown_path, without_machine_paths
from sslexp.report.per_run import (
    ARM_COLUMNS,
    PER_RUN_COLUMNS,
    arm_rows,
    per_run_rows,
    write_per_run_csv,
)
from sslexp.report.provenance import gather
from sslexp.report.render import png_data_uri, render_html, render_markdown
from sslexp.report.stats import EFFICIENCY_CURVE, MIN_PAIRS
from sslexp.report.verdict import MIN_VAL_PER_CLASS, pooled_test_text, verdict, warnings
from sslexp.report.visuals import ImageSource, Visuals, draw_visuals
from sslexp.report.volume import answer_volumes, recorded_pretext_updates
from sslexp.report.volume_text import section

PRETRAIN_COLUMNS = (
    "backbone",
    "what differs",
    "epochs",
    "final rotation acc %",
    "best held-out rotation acc %",
    "k-NN probe acc % per epoch",
    "pretext images",
    "used by ssl runs",
)
RUN_COLUMNS = ("run", "state", "label fraction", "method", "fold", "labels", "test acc %")
FAILED_COLUMNS = ("run", "state", "label fraction", "method", "fold", "error")


@dataclass
class LocalReport:
    html: Path
    markdown: Path
    comparison_csv: Path
    runs_csv: Path
    figures: list[Path] = field(default_factory=list)
    sweep: SweepData | None = None
    comparison: Comparison | None = None
    verdict: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    experiment: str | None = None
    per_run_csv: Path | None = None

    @property
    def headline(self) -> str:
        return tables.text_table(tables.headline_rows(self.comparison), tables.HEADLINE_COLUMNS)


def build_reports(
    sweep: SweepData,
    out_dir: str | Path,
    image_source: ImageSource | None = None,
    image_count: int = 4,
    seed: int = 0,
    title: str | None = None,
    experiment: str | None = None,
    min_val_per_class: float = MIN_VAL_PER_CLASS,
) -> list[LocalReport]:
    """One report per chosen experiment of runs collected from any source (a sweep
    directory, or W&B; see ``experiments.choose``, which raises ``ExperimentChoiceError``
    when several need a choice). With several, each goes into ``<out_dir>/<experiment>/``."""
    out_dir = Path(out_dir)
    experiments = group_experiments(sweep.runs)
    chosen = choose(experiments, experiment)
    if not chosen:  # a sweep with no run at all still reports what is missing
        return [
            _build(sweep, out_dir, image_source, image_count, seed, title, None, min_val_per_class)
        ]
    several = len(chosen) > 1
    return [
        _build(
            restrict(sweep, one),
            out_dir / directory_name(one) if several else out_dir,
            image_source,
            image_count,
            seed,
            title,
            one if len(experiments) > 1 else None,
            min_val_per_class,
        )
        for one in chosen
    ]


def build_local_reports(
    sweep_dir: str | Path,
    out_dir: str | Path | None = None,
    image_source: ImageSource | None = None,
    image_count: int = 4,
    seed: int = 0,
    title: str | None = None,
    experiment: str | None = None,
    min_val_per_class: float = MIN_VAL_PER_CLASS,
    baseline_dir: str | Path | None = None,
) -> list[LocalReport]:
    """The reports of a sweep directory, written to ``out_dir`` (default ``<sweep_dir>/report``);
    with ``baseline_dir``, that sweep's scratch runs are the baseline (``add_baseline``)."""
    sweep = collect_sweep(sweep_dir)
    if baseline_dir is not None:
        try:
            baseline = collect_sweep(baseline_dir)
        except FileNotFoundError as error:
            raise BaselineError(str(error)) from error
        sweep = add_baseline(sweep, baseline)
    return build_reports(
        sweep,
        Path(out_dir) if out_dir else sweep.directory / "report",
        image_source,
        image_count,
        seed,
        title,
        experiment,
        min_val_per_class,
    )


def build_local_report(
    sweep_dir: str | Path,
    out_dir: str | Path | None = None,
    image_source: ImageSource | None = None,
    image_count: int = 4,
    seed: int = 0,
    title: str | None = None,
    experiment: str | None = None,
    min_val_per_class: float = MIN_VAL_PER_CLASS,
) -> LocalReport:
    """Write the report for ``sweep_dir`` into ``out_dir`` (default ``<sweep_dir>/report``).

    Without ``image_source`` the ssl/scratch pictures are left out (with a note).
    """
    reports = build_local_reports(
        sweep_dir, out_dir, image_source, image_count, seed, title, experiment, min_val_per_class
    )
    if len(reports) != 1:
        raise ValueError(f"{len(reports)} experiments: use build_local_reports")
    return reports[0]


def _build(
    sweep: SweepData,
    out_dir: Path,
    image_source: ImageSource | None,
    image_count: int,
    seed: int,
    title: str | None,
    experiment: Experiment | None,
    min_val_per_class: float,
) -> LocalReport:
    figures_dir = out_dir / "figures"
    figures_dir.mkdir(parents=True, exist_ok=True)
    comparison = compare(sweep.runs)
    volume_rows = compare_volumes(sweep.runs)
    pretrains = find_pretrains(sweep)
    facts = run_facts(sweep.runs, pretrains, min_val_per_class)
    sentences = verdict(comparison)
    volume_answer = section(
        answer_volumes(sweep.runs, recorded_updates=recorded_pretext_updates(pretrains))
    )
    if volume_answer is not None:
        sentences.append(volume_answer["sentence"])
    cautions = warnings(comparison, facts, min_val_per_class)

    charts, figure_paths = [], []
    if comparison.rows:
        folds_caption = (
            " Crosses: the individual folds."
            if any(
                0 < len(by_fold) <= plots.MAX_FOLDS_SHOWN
                for row in comparison.rows
                for by_fold in row.accuracy_by_fold.values()
            )
            else ""
        )
        chart_specs = [
            (
                "accuracy_vs_labels",
                plots.accuracy_vs_labels(comparison),
                "Test accuracy against labels",
                "Mean over folds (line), ±1 sample std (band) and min-max over folds (whiskers)."
                + folds_caption,
            ),
            (
                "paired_difference",
                plots.difference_vs_labels(comparison),
                "Paired difference",
                f"ssl - scratch paired by fold: the mean, and its 95% t-interval where at least "
                f'{MIN_PAIRS} fold pairs back it (hollow markers, "n = 2": fewer pairs, no '
                f'interval drawn; an arrow "to +55": an interval cut at the edge of the plot, '
                f"ending at +55 points). Above zero means ssl helps.",
            ),
        ]
        if volume_rows:
            chart_specs.append(
                (
                    "gain_vs_unlabeled",
                    plots.gain_vs_unlabeled(volume_rows),
                    "Gain against unlabelled images",
                    f"ssl - scratch (paired by fold; 95% t-interval where at least {MIN_PAIRS} "
                    f"pairs back it) against the number of pool images the backbone was "
                    f"pretrained on, one line per label fraction; every volume's ssl runs pair "
                    f"with the same scratch runs.",
                )
            )
        for name, figure, chart_title, caption in chart_specs:
            png = plots.to_png(figure)
            figure_paths.append(_write(figures_dir / f"{name}.png", png))
            _write(figures_dir / f"{name}.svg", plots.to_svg(figure))
            charts.append({"title": chart_title, "caption": caption, "uri": png_data_uri(png)})
    pretext_chart = None
    pretext_figure = plots.pretext_curves(pretrains)
    if pretext_figure is not None:
        png = plots.to_png(pretext_figure)
        figure_paths.append(_write(figures_dir / "pretext_curves.png", png))
        _write(figures_dir / "pretext_curves.svg", plots.to_svg(pretext_figure))
        pretext_chart = {
            "title": "Pretext training curves",
            "uri": png_data_uri(png),
            "caption": "Rotation accuracy and loss per epoch, one colour per "
            "backbone, named by what differs between them (solid: "
            "training images; dashed: held-out images, BatchNorm "
            "statistics recomputed; dash-dotted: k-NN probe accuracy of "
            "the backbone's features on a labelled slice of the "
            "pool, never test).",
        }

    if image_source is None:
        visuals = Visuals(notes=["Pictures were not requested."])
    else:
        visuals = draw_visuals(sweep, pretrains, figures_dir, image_source, image_count, seed)
    figure_paths += [figure.path for figure in visuals.figures]

    fractions, gains = per_class_gains(sweep.runs, comparison.volume)
    context = _context(
        sweep,
        comparison,
        pretrains,
        visuals,
        charts,
        pretext_chart,
        title or f"ssl vs scratch: {sweep.name}" + (f" ({experiment.name})" if experiment else ""),
    )
    bases = _path_bases(sweep)
    context.update(
        {
            "verdict": sentences,
            "warnings": [without_machine_paths(warning, bases) for warning in cautions],
            "experiment": experiment.name if experiment else None,
            "experiment_settings": _settings_text(experiment),
            "budget": {"columns": BUDGET_COLUMNS, "rows": budget_rows(sweep.runs)},
            "class_gains": {
                "columns": gain_columns(fractions),
                "rows": gain_rows(fractions, gains),
            },
            "volumes": [
                {
                    "label fraction": f"{row.label_fraction:g}",
                    "unlabelled share": f"{row.volume:g}",
                    "unlabelled images": count(row.n_unlabeled),
                    **tables.difference_cells(row.difference),
                }
                for row in volume_rows
            ],
            "volume_columns": [
                "label fraction",
                "unlabelled share",
                "unlabelled images",
                *tables.DIFFERENCE_COLUMNS,
            ],
            "volume_answer": volume_answer,
            "arms": {"columns": ARM_COLUMNS, "rows": arm_rows(sweep.runs)},
            "per_run": {"columns": PER_RUN_COLUMNS, "rows": per_run_rows(sweep.runs)},
            "pooled_test": pooled_test_text(comparison),
            "efficiency_curve": EFFICIENCY_CURVE,
            "low_rule": (
                f"Low-label fractions: those whose runs used at most "
                f"{comparison.low_labels_per_class:g} labelled images per class "
                f"(train + validation)"
                + (
                    f": {', '.join(f'{f:g}' for f in comparison.low_fractions)}."
                    if comparison.low_fractions
                    else "; none here."
                )
            ),
        }
    )
    html_path = _write(out_dir / "report.html", render_html(context).encode())
    links = {
        path.stem.replace("_", " "): path.relative_to(out_dir).as_posix() for path in figure_paths
    }
    markdown_path = _write(out_dir / "report.md", render_markdown(context, links).encode())
    return LocalReport(
        html=html_path,
        markdown=markdown_path,
        comparison_csv=tables.write_comparison_csv(comparison, out_dir / "comparison.csv"),
        runs_csv=tables.write_runs_csv(sweep, out_dir / "runs.csv"),
        per_run_csv=write_per_run_csv(sweep.runs, out_dir / "per_run.csv"),
        figures=figure_paths,
        sweep=sweep,
        comparison=comparison,
        verdict=sentences,
        warnings=cautions,
        experiment=experiment.name if experiment else None,
    )


def _settings_text(experiment: Experiment | None) -> str | None:
    if experiment is None:
        return None
    return ", ".join(f"{name}={value}" for name, value in experiment.settings.items())


def _path_bases(sweep: SweepData) -> list[Path]:
    """Where the report's paths are shown relative to: the sweep directory, then the
    project (the working directory)."""
    return [sweep.directory, Path.cwd()]


def _context(
    sweep: SweepData,
    comparison: Comparison,
    pretrains: list[PretrainRun],
    visuals: Visuals,
    charts: list[dict],
    pretext_chart: dict | None,
    title: str,
) -> dict:
    run_rows = tables.run_rows(sweep)
    bases = _path_bases(sweep)
    pretrain_rows = [
        _pretrain_row(record, name)
        for record, name in zip(pretrains, plots.backbone_labels(pretrains))
    ]
    return {
        "title": title,
        "sweep_name": sweep.name,
        "sweep_dir": sweep.source or shown_path(sweep.directory, bases[1:]),
        "generated_at": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "counts": sweep.state_counts(),
        "expected_runs": len(sweep.grid) if sweep.grid is not None else None,
        "notes": [without_machine_paths(note, bases) for note in sweep.notes],
        "headline": {"columns": tables.HEADLINE_COLUMNS, "rows": tables.headline_rows(comparison)},
        "efficiency": {
            "columns": tables.EFFICIENCY_COLUMNS,
            "rows": tables.efficiency_rows(comparison),
        },
        "charts": charts,
        "pretrains": pretrain_rows,
        "pretrain_columns": [
            column
            for column in PRETRAIN_COLUMNS
            if column != "what differs" or any(row[column] for row in pretrain_rows)
        ],
        "pretext_chart": pretext_chart,
        "pictures": [
            {
                "title": figure.title,
                "caption": figure.caption,
                "wide": figure.wide,
                "uri": png_data_uri(figure.path.read_bytes()),
            }
            for figure in sorted(visuals.figures, key=lambda figure: figure.wide)
        ],
        "picture_notes": [without_machine_paths(note, bases) for note in visuals.notes],
        "run_columns": RUN_COLUMNS,
        "runs": [_display_run(row) for row in run_rows],
        "failed_columns": FAILED_COLUMNS,
        "failed": [_display_run(row) for row in run_rows if row["state"] != "finished"],
        "grid_parameters": list(sweep.grid_parameters),
        "missing": None
        if sweep.grid is None
        else [
            {name: str(value) for name, value in point.values.items()}
            for point in sweep.missing_points
        ],
        "provenance": gather(sweep),
    }


def _display_run(row: dict) -> dict:
    accuracy = row["test_accuracy"]
    return {
        "run": row["run_id"],
        "state": row["state"],
        "label fraction": "" if row["label_fraction"] is None else f"{row['label_fraction']:g}",
        "method": row["method"] or "",
        "fold": "" if row["fold"] is None else row["fold"],
        "labels": "" if row["n_labels"] is None else f"{row['n_labels']:.0f}",
        "test acc %": "" if accuracy is None else percent(accuracy),
        "error": row["error"],
    }


def _pretrain_row(record: PretrainRun, label: str) -> dict:
    history = record.history
    final = history[-1].get("accuracy") if history else None
    data = (record.record.data if record.record else None) or {}
    return {
        "backbone": record.name,
        "what differs": label if label != record.name else "",
        "epochs": str(len(history)),
        "final rotation acc %": percent(final),
        "best held-out rotation acc %": percent(record.best_val_accuracy),
        "pretext images": count(data.get("n_pretext_images")),
        "used by ssl runs": ", ".join(record.run_ids),
        "k-NN probe acc % per epoch": (
            " → ".join(percent(epoch.get("probe_accuracy")) for epoch in history)
            if any("probe_accuracy" in epoch for epoch in history)
            else "n/a"
        ),
    }


def _write(path: Path, content: bytes) -> Path:
    """Write via a temporary file and rename, so a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(content)
    temporary.replace(path)
    return path
