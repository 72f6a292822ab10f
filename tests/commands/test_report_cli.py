"""`sslexp report`: the offline HTML report and the W&B Report from the command line."""

import json
from types import SimpleNamespace
from unittest import mock

import numpy as np
import pytest
from click.testing import CliRunner

from sslexp.cli import main
from tests.report import sweep_factory


@pytest.fixture(scope="module")
def sweep_with_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-sweep")
    sweep_dir = sweep_factory.write_sweep(root, with_models=True)
    np.savez(root / "images.npz", test_images=sweep_factory.sample_images(count=10))
    return sweep_dir


def invoke(*arguments):
    return CliRunner().invoke(main, ["report", *map(str, arguments)])


def test_report_writes_html_and_prints_the_headline(sweep_with_models):
    result = invoke(sweep_with_models, "--npz", sweep_with_models.parent / "images.npz",
                    "--images", "2")
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


def test_report_out_option_and_no_pictures(sweep_with_models, tmp_path):
    result = invoke(sweep_with_models, "--out", tmp_path / "elsewhere", "--pictures", "false")
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


def fake_api():
    return SimpleNamespace(client=SimpleNamespace(app_url="https://wandb.example"),
                           projects=lambda entity: [SimpleNamespace(name="sslexp")],
                           create_project=mock.Mock(), default_entity="team")


def test_wandb_report_is_saved_and_its_url_printed(sweep_dir_without_models):
    saved = {}

    def execute(api, query, variables=None):
        if "upsertView" in query:
            saved.update(variables)
            return {"upsertView": {"view": {"id": "R1", "spec": variables["spec"],
                                            "project": {"name": "sslexp", "entityName": "team"}}}}
        return {"project": {"internalId": "P1"}}

    interface = "wandb_workspaces.reports.v2.interface"
    with mock.patch(f"{interface}._get_api", return_value=fake_api()), \
            mock.patch(f"{interface}.execute_graphql", side_effect=execute):
        result = invoke(sweep_dir_without_models, "--pictures", "false",
                        "--wandb", "team/sslexp", "--sweep", "abc123")
    assert result.exit_code == 0, result.output
    assert "W&B Report: https://wandb.example/team/sslexp/reports/" in result.output
    spec = json.loads(saved["spec"])
    markdown = [block for block in spec["blocks"] if block["type"] == "markdown-block"]
    assert "72.00 ± 1.73" in markdown[0]["content"]


def test_wandb_failure_is_an_error_that_says_what_to_check():
    interface = "wandb_workspaces.reports.v2.interface"
    with mock.patch(f"{interface}._get_api", side_effect=Exception("not logged in to W&B")):
        result = invoke("--wandb", "team/sslexp", "--group", "g")
    assert result.exit_code == 1
    assert "wandb login" in result.output


@pytest.fixture
def sweep_dir_without_models(tmp_path):
    return sweep_factory.write_sweep(tmp_path)


@pytest.fixture(scope="module")
def runs_of_two_experiments(tmp_path_factory):
    """A ./runs holding the runs of two data sets at two image sizes, as `sslexp train`
    leaves them without a sweep (no ledger, no sweep.yaml)."""
    root = tmp_path_factory.mktemp("mixed")
    first = sweep_factory.write_sweep(root / "a", with_models=True)
    second = sweep_factory.write_sweep(root / "b", with_models=True, dataset="fashion_mnist",
                                       image_shape=(12, 12, 1))
    mixed = root / "here"
    (mixed / "runs").mkdir(parents=True)
    for prefix, sweep in (("digits-", first), ("fashion-", second)):
        for run in (sweep / "runs").iterdir():
            run.rename(mixed / "runs" / (prefix + run.name))
    np.savez(root / "images.npz", test_images=sweep_factory.sample_images(count=6))
    return mixed


def test_runs_of_two_experiments_exit_2_naming_them(runs_of_two_experiments):
    result = invoke(runs_of_two_experiments, "--npz",
                    runs_of_two_experiments.parent / "images.npz")
    assert result.exit_code == 2, result.output
    assert "dataset=digits" in result.output and "dataset=fashion_mnist" in result.output
    assert "--experiment" in result.output
    assert not (runs_of_two_experiments / "report" / "report.html").exists()


def test_each_experiment_gets_its_own_report(runs_of_two_experiments, tmp_path):
    images = runs_of_two_experiments.parent / "images.npz"
    result = invoke(runs_of_two_experiments, "--npz", images, "--experiment", "all",
                    "--out", tmp_path)
    assert result.exit_code == 0, result.output
    reports = sorted(tmp_path.glob("*/report.html"))
    assert len(reports) == 2
    for report in reports:
        html = report.read_text()
        assert "72.00 ± 1.73" in html  # each experiment's own runs only
    one = invoke(runs_of_two_experiments, "--npz", images, "--out", tmp_path / "one",
                 "--experiment", "dataset=digits,image_size=8")
    assert one.exit_code == 0, one.output
    assert (tmp_path / "one" / "report.html").is_file()
