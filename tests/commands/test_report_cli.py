"""`sslexp report`: the offline HTML report and the W&B Report from the command line."""

import json
from types import SimpleNamespace
from unittest import mock

import numpy as np
import pytest
from click.testing import CliRunner

from sslexp.cli import main
from tests.report import sweep_factory, wandb_factory


@pytest.fixture(scope="module")
def sweep_with_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-sweep")
    sweep_dir = sweep_factory.write_sweep(root, with_models=True)
    np.savez(root / "images.npz", test_images=sweep_factory.sample_images(count=10))
    return sweep_dir


def invoke(*arguments):
    return CliRunner().invoke(main, ["report", *map(str, arguments)])


@pytest.mark.slow
def test_report_writes_html_and_prints_the_headline(sweep_with_models):
    result = invoke(
        sweep_with_models, "--npz", sweep_with_models.parent / "images.npz", "--images", "2"
    )
    assert result.exit_code == 0, result.output
    out = sweep_with_models / "report"
    assert (out / "report.html").is_file() and (out / "report.md").is_file()
    assert (out / "comparison.csv").is_file() and (out / "runs.csv").is_file()
    assert "16 finished, 1 failed, 1 missing" in result.output
    assert "72.00 ± 1.73" in result.output and "+10.00" in result.output
    assert f"failed: {sweep_factory.run_id(*sweep_factory.FAILED)}" in result.output
    assert sweep_factory.FAILURE_MESSAGE in result.output
    assert "missing: 1 grid point(s)" in result.output
    html = (out / "report.html").read_text()
    assert "First-layer filters, ssl vs scratch" in html
    assert html.count("data:image/png;base64,") == 6


@pytest.mark.parametrize(
    "no_pictures", [["--no-pictures"], ["--pictures", "false"], ["--pictures=False"]]
)
@pytest.mark.slow
def test_report_out_option_and_no_pictures(sweep_with_models, tmp_path, no_pictures):
    result = invoke(sweep_with_models, "--out", tmp_path / "elsewhere", *no_pictures)
    assert result.exit_code == 0, result.output
    html = (tmp_path / "elsewhere" / "report.html").read_text()
    assert "Pictures were not requested." in html


def test_report_needs_a_sweep_dir_or_wandb(tmp_path):
    assert invoke().exit_code == 2
    missing = invoke(tmp_path / "nope")
    assert missing.exit_code == 2
    empty = invoke(tmp_path)
    assert empty.exit_code == 2 and "sweep local" in empty.output


def test_wandb_options_are_checked_before_anything_runs():
    no_selection = invoke("--wandb", "team/sslexp")
    assert no_selection.exit_code == 2 and "--sweep" in no_selection.output
    both = invoke("--wandb", "team/sslexp", "--sweep", "a", "--group", "b")
    assert both.exit_code == 2
    bad_path = invoke("--wandb", "sslexp", "--sweep", "a")
    assert bad_path.exit_code == 2 and "ENTITY/PROJECT" in bad_path.output


class FakeRun:
    """What the `comparison` run receives (the real one needs the W&B server)."""

    def __init__(self, **init):
        self.init, self.logged, self.summary, self.metrics = init, [], {}, []
        self.id, self.url = "cmp1", "https://wandb.example/team/sslexp/runs/cmp1"
        self.finished = False

    def define_metric(self, name, step_metric=None):
        self.metrics.append((name, step_metric))

    def log(self, row):
        self.logged.append(row)

    def finish(self):
        self.finished = True


@pytest.fixture
def wandb_standins(monkeypatch, sweep_dir_without_models):
    """W&B's public API holding the sweep's runs, a recorded comparison run, and a report
    server (the only call Report.save() makes outside wandb-workspaces)."""
    api = wandb_factory.api_from_sweep(sweep_dir_without_models)
    monkeypatch.setattr("wandb.Api", lambda *args, **kwargs: api)
    runs = []
    monkeypatch.setattr(
        "sslexp.report.wandb_comparison.comparison_run",
        lambda *args, **kwargs: runs.append(FakeRun(**kwargs)) or runs[-1],
    )
    saved = {}

    def execute(query, variables=None, **_):
        if "upsertView" in query:
            saved.update(variables)
            return {
                "upsertView": {
                    "view": {
                        "id": "R1",
                        "spec": variables["spec"],
                        "project": {"name": "sslexp", "entityName": "team"},
                    }
                }
            }
        return {"project": {"internalId": "P1"}}

    report_api = SimpleNamespace(
        _service_api=SimpleNamespace(execute_graphql=execute, app_url="https://wandb.example/"),
        projects=lambda entity: [SimpleNamespace(name="sslexp")],
        create_project=mock.Mock(),
        default_entity="team",
    )
    monkeypatch.setattr("wandb_workspaces.reports.v2.interface._get_api", lambda: report_api)
    return SimpleNamespace(api=api, runs=runs, saved=saved)


@pytest.mark.slow
def test_the_report_from_wandb_gives_the_numbers_of_the_sweep_directory(
    sweep_dir_without_models, wandb_standins, tmp_path
):
    local = invoke(sweep_dir_without_models, "--pictures", "false", "--out", tmp_path / "local")
    remote = invoke(
        "--wandb",
        "team/sslexp",
        "--sweep",
        wandb_factory.SWEEP_ID,
        "--pictures",
        "false",
        "--publish",
        "false",
        "--out",
        tmp_path / "wandb",
    )
    assert local.exit_code == 0 and remote.exit_code == 0, local.output + remote.output
    assert (tmp_path / "wandb" / "comparison.csv").read_text() == (
        tmp_path / "local" / "comparison.csv"
    ).read_text()
    assert remote.output.split("Report:")[0] == local.output.split("Report:")[0]
    assert "72.00 ± 1.73" in remote.output and "16 finished, 1 failed, 1 missing" in remote.output
    html = (tmp_path / "wandb" / "report.html").read_text()
    assert "W&amp;B team/sslexp, sweep abc123" in html
    assert wandb_standins.runs == [] and wandb_standins.saved == {}


@pytest.mark.slow
def test_the_comparison_run_and_the_wandb_report_are_saved_and_their_urls_printed(
    wandb_standins, tmp_path
):
    result = invoke(
        "--wandb",
        "team/sslexp",
        "--sweep",
        wandb_factory.SWEEP_ID,
        "--pictures",
        "false",
        "--out",
        tmp_path,
    )
    assert result.exit_code == 0, result.output
    assert "W&B comparison run: https://wandb.example/team/sslexp/runs/cmp1" in result.output
    assert "W&B Report: https://wandb.example/team/sslexp/reports/" in result.output
    (run,) = wandb_standins.runs
    assert run.finished and run.init["group"] == wandb_factory.SWEEP_ID
    assert [row["label_fraction"] for row in run.logged[:-1]] == [0.1, 0.3, 1.0]
    assert run.logged[1]["ssl/accuracy_mean"] == pytest.approx(0.82)
    assert {"paired_differences", "paired_folds"} <= set(run.logged[-1])
    spec = json.loads(wandb_standins.saved["spec"])
    markdown = [block["content"] for block in spec["blocks"] if block["type"] == "markdown-block"]
    assert any("72.00 ± 1.73" in text for text in markdown)


@pytest.mark.slow
def test_local_and_wandb_runs_that_differ_are_pointed_out(sweep_dir_without_models, wandb_standins):
    wandb_standins.api._runs = [
        run for run in wandb_standins.api._runs if run.name != "ssl-p0.1-fold0"
    ]
    result = invoke(
        sweep_dir_without_models,
        "--pictures",
        "false",
        "--wandb",
        "team/sslexp",
        "--sweep",
        wandb_factory.SWEEP_ID,
    )
    assert result.exit_code == 0, result.output
    assert "give other numbers than" in result.output
    assert "W&B Report:" in result.output


def test_wandb_failure_is_an_error_that_says_what_to_check(monkeypatch):
    def not_logged_in(*args, **kwargs):
        raise RuntimeError("not logged in to W&B")

    monkeypatch.setattr("wandb.Api", not_logged_in)
    result = invoke("--wandb", "team/sslexp", "--group", "g")
    assert result.exit_code == 1
    assert "wandb login" in result.output and "not logged in" in result.output


@pytest.fixture
def sweep_dir_without_models(tmp_path):
    return sweep_factory.write_sweep(tmp_path)


@pytest.fixture(scope="module")
def runs_of_two_experiments(tmp_path_factory):
    """A ./runs holding the runs of two data sets at two image sizes, as `sslexp train`
    leaves them without a sweep (no ledger, no sweep.yaml)."""
    root = tmp_path_factory.mktemp("mixed")
    first = sweep_factory.write_sweep(root / "a", with_models=True)
    second = sweep_factory.write_sweep(
        root / "b", with_models=True, dataset="fashion_mnist", image_shape=(12, 12, 1)
    )
    mixed = root / "here"
    (mixed / "runs").mkdir(parents=True)
    for prefix, sweep in (("digits-", first), ("fashion-", second)):
        for run in (sweep / "runs").iterdir():
            run.rename(mixed / "runs" / (prefix + run.name))
    np.savez(root / "images.npz", test_images=sweep_factory.sample_images(count=6))
    return mixed


def test_runs_of_two_experiments_exit_2_naming_them(runs_of_two_experiments):
    result = invoke(runs_of_two_experiments, "--npz", runs_of_two_experiments.parent / "images.npz")
    assert result.exit_code == 2, result.output
    assert "dataset=digits" in result.output and "dataset=fashion_mnist" in result.output
    assert "--experiment" in result.output
    assert not (runs_of_two_experiments / "report" / "report.html").exists()


@pytest.mark.slow
def test_each_experiment_gets_its_own_report(runs_of_two_experiments, tmp_path):
    images = runs_of_two_experiments.parent / "images.npz"
    result = invoke(
        runs_of_two_experiments, "--npz", images, "--experiment", "all", "--out", tmp_path
    )
    assert result.exit_code == 0, result.output
    reports = sorted(tmp_path.glob("*/report.html"))
    assert len(reports) == 2
    for report in reports:
        html = report.read_text()
        assert "72.00 ± 1.73" in html  # each experiment's own runs only
    one = invoke(
        runs_of_two_experiments,
        "--npz",
        images,
        "--out",
        tmp_path / "one",
        "--experiment",
        "dataset=digits,image_size=8",
    )
    assert one.exit_code == 0, one.output
    assert (tmp_path / "one" / "report.html").is_file()


def ssl_only(sweep_dir):
    """``sweep_dir`` without its scratch runs, as an ssl-only sweep leaves it."""
    import shutil

    ledger_path = sweep_dir / "ledger.json"
    ledger = json.loads(ledger_path.read_text())
    for identifier in [
        name for name, entry in ledger["runs"].items() if entry["config"]["method"] == "scratch"
    ]:
        shutil.rmtree(sweep_dir / ledger["runs"].pop(identifier)["run_dir"])
    ledger_path.write_text(json.dumps(ledger))
    return sweep_dir


@pytest.mark.slow
def test_an_ssl_only_sweep_is_compared_with_another_sweeps_scratch_runs(tmp_path):
    study = sweep_factory.write_sweep(tmp_path / "study")
    volume = ssl_only(sweep_factory.write_sweep(tmp_path / "volume"))
    alone = invoke(volume, "--pictures", "false", "--out", tmp_path / "alone")
    assert alone.exit_code == 0, alone.output
    assert "+10.00" not in alone.output  # nothing to pair the ssl runs with

    result = invoke(volume, "--baseline", study, "--pictures", "false")
    assert result.exit_code == 0, result.output
    assert "72.00 ± 1.73" in result.output and "+10.00" in result.output
    markdown = (volume / "report" / "report.md").read_text()
    assert f"Scratch runs from {study}" in markdown

    other = ssl_only(sweep_factory.write_sweep(tmp_path / "other"))
    refused = invoke(volume, "--baseline", other, "--pictures", "false")
    assert refused.exit_code == 2
    assert "--baseline" in refused.output and "holds no scratch runs" in refused.output
