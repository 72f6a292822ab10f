"""The W&B Report as the JSON `save()` sends, panel by panel, with the server patched out,
and the numbers the `comparison` run logs for its panels."""

import json
from types import SimpleNamespace
from unittest import mock

import pytest

from sslexp.report.collect import collect_sweep
from sslexp.report.comparison import compare
from sslexp.report.wandb_comparison import difference_rows, fold_rows, history_rows
from sslexp.report.wandb_report import WandbReportSpec, build_wandb_report, publish

VERDICT = ["ssl beats scratch at every label fraction.", "The gain shrinks with more labels."]
WARNINGS = ["Only 2 folds: intervals are wide.", "3 runs hit their update cap."]


class FakeServer:
    """What wandb-workspaces asks the W&B API while saving a report, recorded."""

    def __init__(self):
        self.calls = []
        self.api = SimpleNamespace(
            _service_api=SimpleNamespace(
                execute_graphql=self.execute, app_url="https://wandb.example/"
            ),
            projects=lambda entity: [SimpleNamespace(name="sslexp")],
            create_project=mock.Mock(),
            default_entity="team",
        )

    def execute(self, query, variables=None, **_):
        self.calls.append((query, variables))
        if "upsertView" in query:
            return {
                "upsertView": {
                    "view": {
                        "id": "VIEW123",
                        "displayName": variables["displayName"],
                        "spec": variables["spec"],
                        "project": {
                            "name": variables["projectName"],
                            "entityName": variables["entityName"],
                        },
                    },
                    "inserted": True,
                }
            }
        if "internalId" in query:
            return {"project": {"id": "UHJvamVjdDox", "internalId": "PROJECT1"}}
        raise AssertionError(f"unexpected query: {query[:80]}")


@pytest.fixture(scope="module")
def saved():
    """The spec `publish` sent and the URL it returned."""
    server = FakeServer()
    spec = WandbReportSpec(
        "team",
        "sslexp",
        sweep_id="abc123",
        comparison_run_id="cmp1",
        label_fractions=(0.1, 0.3, 1.0),
        backbone_keys=("k1",),
        headline_markdown="| a |\n|---|\n| 1 |",
    )
    with mock.patch("wandb_workspaces.reports.v2.interface._get_api", return_value=server.api):
        url = publish(build_wandb_report(spec, VERDICT, WARNINGS))
    (variables,) = [v for query, v in server.calls if "upsertView" in query]
    server.api.create_project.assert_not_called()
    return json.loads(variables["spec"]), url


def panels(spec, view_type):
    """(runsets, panel) for every panel of that type."""
    return [
        (grid["metadata"]["runSets"], panel)
        for grid in spec["blocks"]
        if grid["type"] == "panel-grid"
        for panel in grid["metadata"]["panelBankSectionConfig"]["panels"]
        if panel["viewType"] == view_type
    ]


def leaves(runset):
    """The runset's filters as (section, name, op, value)."""
    found = []

    def walk(node):
        if node.get("filters") is not None:
            for child in node["filters"]:
                walk(child)
        elif node.get("key"):
            found.append(
                (node["key"]["section"], node["key"]["name"], node["op"], node.get("value"))
            )

    walk(runset["filters"])
    return found


def test_the_url_is_returned(saved):
    assert saved[1] == (
        "https://wandb.example/team/sslexp/reports/ssl-vs-scratch:-sweep-abc123--VIEW123"
    )


def test_the_verdict_opens_the_report(saved):
    spec, _ = saved
    markdown = [block["content"] for block in spec["blocks"] if block["type"] == "markdown-block"]
    assert markdown[0] == " ".join(VERDICT)


def text_of(node) -> str:
    if "text" in node:
        return node["text"]
    return "".join(text_of(child) for child in node.get("children", []))


def test_the_warnings_follow_the_verdict_as_a_list_under_a_callout(saved):
    spec, _ = saved
    types = [block["type"] for block in spec["blocks"]]
    verdict_at = types.index("markdown-block")
    assert types[verdict_at + 1 : verdict_at + 3] == ["callout-block", "list"]
    callout, listing = spec["blocks"][verdict_at + 1 : verdict_at + 3]
    assert text_of(callout) == "2 warning(s) limit this verdict:"
    assert [text_of(item) for item in listing["children"]] == WARNINGS


def test_accuracy_against_labels_is_mean_and_band_per_method_on_a_log_axis(saved):
    spec, _ = saved
    ((runsets, panel),) = [
        (r, p)
        for r, p in panels(spec, "Run History Line Plot")
        if "ssl/accuracy_mean" in p["config"]["metrics"]
    ]
    assert panel["config"]["xAxis"] == "labels" and panel["config"]["xLogScale"] is True
    assert panel["config"]["metrics"] == [
        f"{method}/accuracy_{part}"
        for method in ("ssl", "scratch")
        for part in ("mean", "low", "high")
    ]
    assert ("run", "name", "=", "cmp1") in leaves(runsets[0])


def test_the_differences_table_and_curve_come_from_the_comparison_run(saved):
    spec, _ = saved
    tables = panels(spec, "Weave")
    keys = [
        panel["config"]["panel2Config"]["exp"]["fromOp"]["inputs"]["key"]["val"]
        for _, panel in tables
    ]
    assert keys == ["paired_differences", "paired_folds"]
    assert all(("run", "jobType", "=", "comparison") in leaves(runsets[0]) for runsets, _ in tables)
    ((_, curve),) = [
        (r, p)
        for r, p in panels(spec, "Run History Line Plot")
        if "difference/mean" in p["config"]["metrics"]
    ]
    assert curve["config"]["metrics"] == [
        "difference/mean",
        "difference/ci_low",
        "difference/ci_high",
    ]


def test_the_pretext_curves_are_the_pretrainings_of_the_backbones_used(saved):
    spec, _ = saved
    pretext = [
        (r, p)
        for r, p in panels(spec, "Run History Line Plot")
        if p["config"]["xAxis"] == "epoch/epoch"
    ]
    assert [p["config"]["metrics"] for _, p in pretext] == [
        ["epoch/accuracy", "epoch/val_accuracy"],
        ["epoch/loss", "epoch/val_loss"],
    ]
    assert leaves(pretext[0][0][0]) == [
        ("run", "jobType", "=", "pretrain"),
        ("config", "backbone_key", "IN", ["k1"]),
    ]


def test_ssl_and_scratch_figures_are_paired_by_fraction_and_fold(saved):
    spec, _ = saved
    media = panels(spec, "Media Browser")
    assert len(media) == 6  # filters and activations at each of 3 fractions
    fractions = set()
    for runsets, panel in media:
        assert panel["config"]["gallerySettings"] == {"axis": "run"}
        assert panel["config"]["mediaKeys"][0] in ("figures/filters", "figures/activations")
        assert [key["key"]["name"] for key in runsets[0]["sort"]["keys"]] == ["fold", "method"]
        assert [key["ascending"] for key in runsets[0]["sort"]["keys"]] == [True, False]
        found = leaves(runsets[0])
        assert ("run", "sweep", "=", "abc123") in found
        assert ("run", "jobType", "=", "train") in found
        fractions |= {value for _, name, _, value in found if name == "label_fraction"}
    assert fractions == {0.1, 0.3, 1.0}


def test_the_runs_table_shows_what_each_run_is_and_scored(saved):
    spec, _ = saved
    ((runsets, _),) = panels(spec, "Run Comparer")
    feed = runsets[0]["runFeed"]
    assert feed["lockColumns"] is True and feed["columnPinned"] == {"run:displayName": True}
    assert {
        "config:method.value",
        "config:label_fraction.value",
        "config:fold.value",
        "summary:test/accuracy",
    } <= set(feed["columnOrder"])


def test_runs_are_selected_by_exactly_one_of_sweep_or_group():
    with pytest.raises(ValueError, match="exactly one"):
        WandbReportSpec("team", "sslexp")
    with pytest.raises(ValueError, match="exactly one"):
        WandbReportSpec("team", "sslexp", sweep_id="a", group="b")


@pytest.mark.slow
def test_the_comparison_runs_rows_are_the_reports_statistics(sweep_dir):
    comparison = compare(collect_sweep(sweep_dir).runs)
    rows = history_rows(comparison)
    assert [row["labels"] for row in rows] == [50, 150, 500]
    for row, fraction in zip(rows, comparison.rows):
        ssl = fraction.accuracy["ssl"]
        assert row["ssl/accuracy_mean"] == ssl.mean
        assert row["ssl/accuracy_low"] == pytest.approx(ssl.mean - ssl.std)
        assert row["difference/ci_low"] == fraction.difference.ci_low
    (first, *_) = difference_rows(comparison)
    assert first[0] == 0.1 and first[4] == pytest.approx(0.1)  # +10 points at 10% labels
    assert first[7] == comparison.rows[0].difference.p_value and first[8] == 3
    assert [row[:2] for row in fold_rows(comparison)][:3] == [[0.1, 0], [0.1, 1], [0.1, 2]]
