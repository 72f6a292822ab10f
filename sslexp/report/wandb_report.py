"""The comparison as a W&B Report, built with ``wandb-workspaces`` from the runs
the server already holds (selected by sweep id or group).

Building the objects needs no network; ``publish`` saves through the W&B API.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ACCURACY_KEY = "test/accuracy"
DEFAULT_PARAMETERS = ("label_fraction", "method", "fold")
MEDIA_KEYS = ("figures/filters", "figures/activations")


@dataclass(frozen=True)
class WandbReportSpec:
    """What to put in the report; the runs are those of ``sweep_id`` or ``group``."""

    entity: str
    project: str
    sweep_id: str | None = None
    group: str | None = None
    title: str | None = None
    accuracy_key: str = ACCURACY_KEY
    parameters: tuple[str, ...] = DEFAULT_PARAMETERS
    media_keys: tuple[str, ...] = MEDIA_KEYS
    summary_markdown: str | None = None
    methods: tuple[str, ...] = field(default=("ssl", "scratch"))

    def __post_init__(self):
        if bool(self.sweep_id) == bool(self.group):
            raise ValueError("select the runs with exactly one of a sweep id or a group name")

    @property
    def selection(self) -> str:
        return f"sweep {self.sweep_id}" if self.sweep_id else f"group {self.group}"


def build_wandb_report(spec: WandbReportSpec):
    """A ``wandb_workspaces.reports.v2.Report`` comparing ssl and scratch (not saved yet)."""
    import wandb_workspaces.reports.v2 as wr

    title = spec.title or f"ssl vs scratch: {spec.selection}"
    blocks = [
        wr.TableOfContents(),
        wr.P(f"Test accuracy of RotNet-pretrained (ssl) and randomly initialised (scratch) "
             f"classifiers at each label fraction, for the runs of {spec.selection}. "
             f"Every point is one run (label fraction x method x fold)."),
    ]
    if spec.summary_markdown:
        blocks += [wr.H2("Headline numbers (from the local results files)"),
                   wr.MarkdownBlock(spec.summary_markdown)]
    blocks += [
        wr.H2("Accuracy against label fraction, by method"),
        wr.PanelGrid(runsets=_method_runsets(spec), panels=_accuracy_panels(spec)),
        wr.H2("Mean and spread over folds"),
        wr.PanelGrid(runsets=[_runset(spec, "by fraction and method",
                                      groupby=["config.label_fraction", "config.method"])],
                     panels=_grouped_panels(spec)),
        wr.H2("All sweep parameters"),
        wr.PanelGrid(runsets=[_runset(spec, "all runs")], panels=[_parallel_coordinates(spec)]),
        wr.H2("Filters and activations"),
        wr.P("First-layer filters and per-stage activations logged by each run; compare an ssl "
             "run with the scratch run of the same fraction and fold."),
        wr.PanelGrid(runsets=_method_runsets(spec), panels=_media_panels(spec)),
    ]
    return wr.Report(project=spec.project, entity=spec.entity, title=title[:128],
                     description=f"ssl vs scratch comparison for {spec.selection}", blocks=blocks)


def publish(report) -> str:
    """Save the report on the W&B server and return its URL."""
    report.save()
    return report.url


def _runset(spec: WandbReportSpec, name: str, method: str | None = None, groupby=None):
    import wandb_workspaces.reports.v2 as wr
    from wandb_workspaces import expr

    filters = [expr.Metric("Sweep") == spec.sweep_id] if spec.sweep_id else [
        expr.Metric("Group") == spec.group]
    if method:
        filters.append(expr.Config("method") == method)
    return wr.Runset(entity=spec.entity, project=spec.project, name=name, filters=filters,
                     groupby=list(groupby or []))


def _method_runsets(spec: WandbReportSpec) -> list:
    return [_runset(spec, method, method=method) for method in spec.methods]


def _accuracy_panels(spec: WandbReportSpec) -> list:
    import wandb_workspaces.reports.v2 as wr

    return [
        wr.ScatterPlot(title="Test accuracy against label fraction (one point per run)",
                       x=wr.Config("label_fraction"), y=wr.SummaryMetric(spec.accuracy_key),
                       log_x=True, layout=wr.Layout(w=12, h=8)),
        wr.ScatterPlot(title="Test accuracy against labels used",
                       x=wr.SummaryMetric("n_labels"), y=wr.SummaryMetric(spec.accuracy_key),
                       log_x=True, layout=wr.Layout(x=12, w=12, h=8)),
    ]


def _grouped_panels(spec: WandbReportSpec) -> list:
    import wandb_workspaces.reports.v2 as wr

    return [
        wr.BarPlot(title="Test accuracy, mean and std over folds",
                   metrics=[wr.SummaryMetric(spec.accuracy_key)], orientation="v",
                   groupby_aggfunc="mean", groupby_rangefunc="stddev",
                   layout=wr.Layout(w=24, h=8)),
    ]


def _parallel_coordinates(spec: WandbReportSpec):
    import wandb_workspaces.reports.v2 as wr

    columns = [wr.ParallelCoordinatesPlotColumn(metric=wr.Config(name)) for name in spec.parameters]
    columns.append(wr.ParallelCoordinatesPlotColumn(metric=wr.SummaryMetric(spec.accuracy_key),
                                                    display_name="test accuracy"))
    return wr.ParallelCoordinatesPlot(title="Sweep parameters and test accuracy", columns=columns,
                                      layout=wr.Layout(w=24, h=9))


def _media_panels(spec: WandbReportSpec) -> list:
    import wandb_workspaces.reports.v2 as wr

    return [
        wr.MediaBrowser(title=key, media_keys=[key], num_columns=2, gallery_axis="run",
                        layout=wr.Layout(x=12 * (index % 2), w=12, h=10))
        for index, key in enumerate(spec.media_keys)
    ]
