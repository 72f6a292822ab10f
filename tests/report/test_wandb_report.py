"""The W&B Report's structure, and what `save()` would send, with the server patched out."""

import json
from types import SimpleNamespace
from unittest import mock

import pytest
import wandb_workspaces.reports.v2 as wr

from sslexp.report.wandb_report import WandbReportSpec, build_wandb_report, publish


class FakeServer:
    """Answers the GraphQL calls Report.save() makes, and records them."""

    def __init__(self):
        self.calls = []
        self.api = SimpleNamespace(client=SimpleNamespace(app_url="https://wandb.example"),
                                   projects=lambda entity: [SimpleNamespace(name="sslexp")],
                                   create_project=mock.Mock(), default_entity="team")

    def execute(self, api, query, variables=None):
        self.calls.append((query, variables))
        if "upsertView" in query:
            return {"upsertView": {"view": {
                "id": "VIEW123", "displayName": variables["displayName"], "spec": variables["spec"],
                "project": {"name": variables["projectName"],
                            "entityName": variables["entityName"]},
            }, "inserted": True}}
        if "internalId" in query:
            return {"project": {"internalId": "PROJECT1"}}
        raise AssertionError(f"unexpected query: {query[:80]}")

    def patches(self):
        interface = "wandb_workspaces.reports.v2.interface"
        return (mock.patch(f"{interface}._get_api", return_value=self.api),
                mock.patch(f"{interface}.execute_graphql", side_effect=self.execute))

    def saved_spec(self) -> dict:
        (variables,) = [v for query, v in self.calls if "upsertView" in query]
        return json.loads(variables["spec"])


def panel_grids(report):
    return [block for block in report.blocks if isinstance(block, wr.PanelGrid)]


def test_report_compares_methods_over_label_fraction():
    report = build_wandb_report(WandbReportSpec("team", "sslexp", sweep_id="abc123"))
    assert report.entity == "team" and report.project == "sslexp"
    accuracy_grid = panel_grids(report)[0]
    assert [runset.name for runset in accuracy_grid.runsets] == ["ssl", "scratch"]
    assert all("abc123" in runset.filters for runset in accuracy_grid.runsets)
    assert "'ssl'" in accuracy_grid.runsets[0].filters
    scatter = accuracy_grid.panels[0]
    assert isinstance(scatter, wr.ScatterPlot)
    assert scatter.log_x is True
    assert scatter.x.name == "label_fraction" and scatter.y.name == "test/accuracy"


def test_report_has_grouped_parallel_coordinates_and_media_panels():
    spec = WandbReportSpec("team", "sslexp", group="demo-group",
                           parameters=("label_fraction", "method", "fold", "finetune"))
    grids = panel_grids(build_wandb_report(spec))
    grouped = grids[1]
    assert grouped.runsets[0].groupby == ["config.label_fraction", "config.method"]
    assert "demo-group" in grouped.runsets[0].filters
    (parallel,) = grids[2].panels
    assert isinstance(parallel, wr.ParallelCoordinatesPlot)
    assert [column.metric.name for column in parallel.columns] == [
        "label_fraction", "method", "fold", "finetune", "test/accuracy"]
    media = grids[3].panels
    assert all(isinstance(panel, wr.MediaBrowser) for panel in media)
    assert [panel.media_keys for panel in media] == [["figures/filters"], ["figures/activations"]]


def test_runs_are_selected_by_exactly_one_of_sweep_or_group():
    with pytest.raises(ValueError, match="exactly one"):
        WandbReportSpec("team", "sslexp")
    with pytest.raises(ValueError, match="exactly one"):
        WandbReportSpec("team", "sslexp", sweep_id="a", group="b")


def test_publish_saves_through_the_api_and_returns_the_url():
    server = FakeServer()
    report = build_wandb_report(WandbReportSpec("team", "sslexp", sweep_id="abc123",
                                                summary_markdown="| a |\n|---|\n| 1 |"))
    first, second = server.patches()
    with first, second:
        url = publish(report)
    assert url.startswith("https://wandb.example/team/sslexp/reports/")
    assert url.endswith("--VIEW123")
    spec = server.saved_spec()
    types = [block["type"] for block in spec["blocks"]]
    assert types.count("panel-grid") == 4
    assert "markdown-block" in types
    view_types = [panel["viewType"] for block in spec["blocks"] if block["type"] == "panel-grid"
                  for panel in block["metadata"]["panelBankSectionConfig"]["panels"]]
    expected = {"Scatter Plot", "Bar Chart", "Parallel Coordinates Plot", "Media Browser"}
    assert expected <= set(view_types)
    server.api.create_project.assert_not_called()
