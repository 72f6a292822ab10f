"""The comparison as a W&B Report (``wandb-workspaces``): the verdict, accuracy against
labels per method (mean and band, log x), the paired differences with intervals and
p-values, the pretext curves, ssl and scratch figures paired by fraction and fold, and
the runs table.

The statistics come from the ``comparison`` run ``sslexp report --wandb`` logs
(``sslexp.report.wandb_comparison``); the other panels read the sweep's own runs
(selected by sweep id or group) and the pretrain runs of their backbones (by
backbone key). Building the objects needs no network; ``publish`` saves the
report through the W&B API and returns its URL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sslexp.report.wandb_comparison import (DIFFERENCE_KEYS, DIFFERENCES_TABLE, FOLDS_TABLE,
                                            LABELS, band_keys)
from sslexp.runs.protocol import (BACKBONE_KEY, COMPARISON_JOB, PRETRAIN_JOB, TEST_ACCURACY,
                                  TRAIN_JOB)

MEDIA_KEYS = ("figures/filters", "figures/activations")
RUN_COLUMNS = ("run:state", "config:method.value", "config:label_fraction.value",
               "config:fold.value", f"summary:{TEST_ACCURACY}", "summary:n_labels")


@dataclass(frozen=True)
class WandbReportSpec:
    """What the report shows; the downstream runs are those of ``sweep_id`` or ``group``."""

    entity: str
    project: str
    sweep_id: str | None = None
    group: str | None = None
    title: str | None = None
    comparison_run_id: str | None = None  # the run holding the statistics
    label_fractions: tuple[float, ...] = ()  # one pair of figure galleries each
    backbone_keys: tuple[str, ...] = ()  # the pretrain runs whose curves are shown
    headline_markdown: str | None = None
    methods: tuple[str, ...] = field(default=("ssl", "scratch"))
    media_keys: tuple[str, ...] = MEDIA_KEYS

    def __post_init__(self):
        if bool(self.sweep_id) == bool(self.group):
            raise ValueError("select the runs with exactly one of a sweep id or a group name")

    @property
    def selection(self) -> str:
        return f"sweep {self.sweep_id}" if self.sweep_id else f"group {self.group}"


def build_wandb_report(spec: WandbReportSpec, verdict: Sequence[str] | None = None,
                       warnings: Sequence[str] = ()):
    """A ``wandb_workspaces.reports.v2.Report`` (not saved yet). It opens, as the HTML
    report does, with the ``verdict`` (one sentence an item) as a block of its own, then
    the ``warnings`` that limit it as a list in a callout."""
    import wandb_workspaces.reports.v2 as wr

    title = spec.title or f"ssl vs scratch: {spec.selection}"
    blocks = [
        wr.TableOfContents(),
        wr.P(f"RotNet-pretrained (ssl) against randomly initialised (scratch) classifiers at "
             f"each label fraction, for the runs of {spec.selection}. The statistics are "
             f"computed by sslexp from each run's results file, as in its HTML report."),
    ]
    if verdict:
        blocks += [wr.H2("Verdict"), wr.MarkdownBlock(text=" ".join(verdict))]
    if warnings:
        blocks += [wr.CalloutBlock(text=f"{len(warnings)} warning(s) limit this verdict:"),
                   wr.UnorderedList(items=list(warnings))]
    if spec.headline_markdown:
        blocks += [wr.H2("Per label fraction"), wr.MarkdownBlock(text=spec.headline_markdown)]
    if spec.comparison_run_id:
        blocks += _comparison_blocks(spec)
    if spec.backbone_keys:
        blocks += _pretext_blocks(spec)
    blocks += _figure_blocks(spec)
    blocks += [
        wr.H2("All runs"),
        wr.PanelGrid(runsets=[_runset(spec, "all runs", _downstream(spec), columns=True)],
                     panels=[
                         wr.ScatterPlot(title="Test accuracy of each run against labels used",
                                        x=wr.SummaryMetric("n_labels"),
                                        y=wr.SummaryMetric(TEST_ACCURACY), log_x=True,
                                        layout=wr.Layout(w=12, h=8)),
                         wr.RunComparer(diff_only="split", layout=wr.Layout(x=12, w=12, h=8)),
                     ]),
    ]
    return wr.Report(project=spec.project, entity=spec.entity, title=title[:128],
                     description=f"ssl vs scratch comparison for {spec.selection}", blocks=blocks)


def publish(report) -> str:
    """Save the report on the W&B server and return its URL."""
    report.save()
    return report.url


def _comparison_blocks(spec: WandbReportSpec) -> list:
    import wandb_workspaces.reports.v2 as wr
    from wandb_workspaces import expr

    runset = _runset(spec, "comparison", [expr.Metric("ID") == spec.comparison_run_id,
                                          expr.Metric("JobType") == COMPARISON_JOB], scoped=False)
    bands = [key for method in spec.methods for key in band_keys(method)]
    return [
        wr.H2("Test accuracy against labels"),
        wr.P("Mean over folds per method, with a band of one sample standard deviation "
             "(the _low and _high lines); x is the number of labels used, on a log scale."),
        wr.PanelGrid(runsets=[runset], panels=[
            wr.LinePlot(title="Test accuracy: mean and band per method", x=LABELS, y=bands,
                        log_x=True, title_x="labels", title_y="test accuracy",
                        layout=wr.Layout(w=12, h=9)),
            wr.LinePlot(title="Paired difference ssl - scratch, with its 95% interval",
                        x=LABELS, y=list(DIFFERENCE_KEYS), log_x=True, title_x="labels",
                        title_y="accuracy difference", layout=wr.Layout(x=12, w=12, h=9)),
        ]),
        wr.H2("Paired differences"),
        wr.P("ssl minus scratch over the folds both finished (the same labelled subset), "
             "with the 95% t-interval and the paired t-test p-value; then each fold's pair."),
        wr.PanelGrid(runsets=[runset], panels=[
            wr.WeavePanelSummaryTable(table_name=DIFFERENCES_TABLE, layout=wr.Layout(w=24, h=8)),
            wr.WeavePanelSummaryTable(table_name=FOLDS_TABLE, layout=wr.Layout(y=8, w=24, h=8)),
        ]),
    ]


def _pretext_blocks(spec: WandbReportSpec) -> list:
    import wandb_workspaces.reports.v2 as wr
    from wandb_workspaces import expr

    runset = _runset(spec, "pretraining", [
        expr.Metric("JobType") == PRETRAIN_JOB,
        expr.Config(BACKBONE_KEY).isin(list(spec.backbone_keys))], scoped=False)
    return [
        wr.H2("Pretext training"),
        wr.P("Rotation accuracy and loss per epoch of the pretrainings the ssl runs started "
             "from (val: the held-out slice of the pool that selected the epoch)."),
        wr.PanelGrid(runsets=[runset], panels=[
            wr.LinePlot(title="Rotation accuracy", x="epoch/epoch",
                        y=["epoch/accuracy", "epoch/val_accuracy"], layout=wr.Layout(w=12, h=8)),
            wr.LinePlot(title="Rotation loss", x="epoch/epoch",
                        y=["epoch/loss", "epoch/val_loss"], layout=wr.Layout(x=12, w=12, h=8)),
        ]),
    ]


def _figure_blocks(spec: WandbReportSpec) -> list:
    """One gallery per label fraction, runs sorted by fold then method: ssl beside scratch."""
    import wandb_workspaces.reports.v2 as wr
    from wandb_workspaces import expr

    blocks = [wr.H2("Filters and activations, ssl beside scratch"),
              wr.P("Each run's first-layer filters and stage activations; in each gallery a "
                   "row is one fold, its ssl run beside its scratch run.")]
    for fraction in spec.label_fractions:
        runset = _runset(spec, f"label fraction {fraction:g}",
                         _downstream(spec) + [expr.Config("label_fraction") == fraction],
                         order=[wr.OrderBy(wr.Config("fold"), ascending=True),
                                wr.OrderBy(wr.Config("method"), ascending=False)])
        blocks += [wr.H3(f"Label fraction {fraction:g}"), wr.PanelGrid(runsets=[runset], panels=[
            wr.MediaBrowser(title=f"{key} at label fraction {fraction:g}", media_keys=[key],
                            gallery_axis="run", num_columns=len(spec.methods),
                            layout=wr.Layout(x=12 * (index % 2), w=12, h=12))
            for index, key in enumerate(spec.media_keys)])]
    return blocks


def _downstream(spec: WandbReportSpec) -> list:
    from wandb_workspaces import expr

    return [expr.Metric("JobType") == TRAIN_JOB]


def _runset(spec: WandbReportSpec, name: str, filters: list, *, scoped: bool = True,
            order=None, columns: bool = False):
    """Runs of the selection (``scoped``) or of the whole project, matching ``filters``."""
    import wandb_workspaces.reports.v2 as wr
    from wandb_workspaces import expr

    if scoped:
        filters = [expr.Metric("Sweep") == spec.sweep_id if spec.sweep_id
                   else expr.Metric("Group") == spec.group, *filters]
    extra = {}
    if columns:
        extra = dict(pinned_columns=["run:displayName"], visible_columns=list(RUN_COLUMNS),
                     lock_columns=True)
    if order:
        extra["order"] = order
    return wr.Runset(entity=spec.entity, project=spec.project, name=name,
                     filters=expr.And(*filters), **extra)
