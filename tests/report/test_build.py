"""The local report end to end: one HTML file, Markdown and CSV with the same numbers."""

import base64
import csv
import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sslexp.report.build import build_local_report, build_reports
from sslexp.report.collect import SweepData
from tests.report import sweep_factory, volume_factory

SCRIPT = "<script>alert('pwned')</script>"


def colored_pixels(path) -> int:
    """Pixels of the red-blue difference colormap (grey and white pixels do not count)."""
    rgb = np.asarray(Image.open(path).convert("RGB"), dtype=int)
    return int((np.abs(rgb[..., 0] - rgb[..., 2]) > 60).sum())


@pytest.mark.slow
def test_report_files_are_written_next_to_the_sweep(built_report):
    out_dir = built_report.sweep.directory / "report"
    assert built_report.html == out_dir / "report.html"
    for path in (
        built_report.html,
        built_report.markdown,
        built_report.comparison_csv,
        built_report.runs_csv,
    ):
        assert path.is_file() and path.stat().st_size > 0


@pytest.mark.slow
def test_html_is_self_contained_with_inline_images(built_report):
    html = built_report.html.read_text()
    sources = re.findall(r'<img src="([^"]+)"', html)
    # accuracy, paired difference, pretext curve, filters, activations, rotations
    assert len(sources) == 6
    for source in sources:
        assert source.startswith("data:image/png;base64,")
        image = Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1])))
        assert image.width > 100 and image.height > 100
    assert not re.search(r'(src|href)="(https?:)?//', html), "the report must not need a network"


def test_html_reports_failed_and_missing_runs(built_report):
    html = built_report.html.read_text()
    assert sweep_factory.FAILURE_MESSAGE in html
    assert sweep_factory.run_id(*sweep_factory.FAILED) in html
    assert "1 grid point(s)" in html
    missing_row = re.search(r'<table id="missing">(.*?)</table>', html, re.S).group(1)
    assert "<td>1.0</td><td>ssl</td><td>2</td>" in missing_row.replace("\n", "").replace("  ", "")


def test_html_holds_the_statistics_and_provenance(built_report):
    html = built_report.html.read_text()
    headline = re.search(r'<table id="headline">(.*?)</table>', html, re.S).group(1)
    assert "72.00 ± 1.73" in headline  # ssl at 0.1: mean 0.72, std sqrt(0.0003)
    assert "62.00 ± 2.00" in headline  # scratch at 0.1
    assert "+10.00" in headline
    efficiency = re.search(r'<table id="efficiency">(.*?)</table>', html, re.S).group(1)
    # PCHIP through (log 50, 0.62), (log 150, 0.77), (log 500, 0.91) reaches 0.72 at 102 labels:
    # slightly fewer than the straight line's 50 * 3^(2/3) = 104 (2.08x)
    assert "2.04x" in efficiency
    assert "monotone cubic interpolation (PCHIP) in log(labels)" in html
    pooled = re.search(r'<p id="pooled-test">(.*?)</p>', html, re.S).group(1)
    assert "3 independent units (folds)" in pooled and "2/2^3 = 0.25" in pooled
    assert "folds ssl &gt; scratch (sign p)" in headline and "3 of 3 (0.250)" in headline
    assert "&gt; max (500)" in efficiency
    assert "0123abcd" in html and "split-0.1-0" in html and "digits-abc" in html
    assert "Every paired ssl and scratch run used the same labelled subset" in html
    assert "label_fraction:" in html  # the sweep YAML text
    assert "64.00" in html  # best pretext validation rotation accuracy


def test_pictures_come_from_the_two_checkpoints(built_report):
    names = {path.name for path in built_report.figures}
    assert {"filters_side_by_side.png", "activations_side_by_side.png", "rotations.png"} <= names
    html = built_report.html.read_text()
    pair = sweep_factory.run_id("ssl", 0.1, 0), sweep_factory.run_id("scratch", 0.1, 0)
    assert all(run in html for run in pair)
    # the difference panel (red/blue, white where equal) shows that the two checkpoints differ
    filters = next(path for path in built_report.figures if path.name == "filters_side_by_side.png")
    assert colored_pixels(filters) > 50
    # the first column: the random kernels scratch started from; fold 0's derived seed is not 0
    assert "The first column shows the random kernels scratch started from" in html
    assert "pretraining started from other random kernels (pretext seed 0)" in html
    # so ssl - scratch would mix initialisation with learning: what scratch moved instead
    assert "no ssl - scratch panel is drawn" in html
    assert re.search(r"Moved from its start: scratch \d+% \(mean", html)
    assert "ssl and scratch differ by" not in html


def test_csv_and_markdown_carry_the_same_numbers(built_report):
    rows = list(csv.DictReader(built_report.comparison_csv.open()))
    assert [float(row["label_fraction"]) for row in rows] == [0.1, 0.3, 1.0]
    assert float(rows[0]["ssl_mean"]) == pytest.approx(0.72)
    assert float(rows[0]["p_value"]) == pytest.approx(1 - (300 / 302) ** 0.5)
    assert int(rows[1]["diff_n_pairs"]) == 2
    assert rows[2]["label_efficiency_bound"] == "more_than"
    runs = list(csv.DictReader(built_report.runs_csv.open()))
    assert len(runs) == 17
    assert {row["state"] for row in runs} == {"finished", "failed"}
    markdown = built_report.markdown.read_text()
    assert "| 0.1 | 50 | 72.00 ± 1.73 | 62.00 ± 2.00 | +10.00 |" in markdown
    assert "## Missing grid points" in markdown
    assert "Fold-blocked pooled test over the low-label fractions: 3 independent units" in markdown
    assert "monotone cubic interpolation (PCHIP) in log(labels)" in markdown
    assert "| label fraction | method | fold |" in markdown  # grid parameters read as words
    assert "figures/filters_side_by_side.png" in markdown


@pytest.mark.slow
def test_config_strings_are_escaped_everywhere(tmp_path):
    sweep_dir = sweep_factory.write_sweep(tmp_path, extra_config={"note": SCRIPT})
    report = build_local_report(sweep_dir, tmp_path / "out")
    html = report.html.read_text()
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(" in html
    assert "<script" not in report.markdown.read_text().lower()


def test_a_sweep_with_no_finished_run_still_reports_what_is_missing(tmp_path):
    sweep_dir = tmp_path / "empty-sweep"
    sweep_dir.mkdir()
    (sweep_dir / "sweep.yaml").write_text(
        "method: grid\nparameters:\n  label_fraction: {values: [0.1, 0.5]}\n"
        "  method: {values: [ssl, scratch]}\n  fold: {values: [0]}\n"
    )
    report = build_local_report(sweep_dir)
    html = report.html.read_text()
    assert "No finished runs yet" in html
    assert "4 grid point(s)" in html
    assert report.sweep.state_counts()["missing"] == 4


def test_the_report_opens_with_its_verdict_and_warnings(built_report):
    assert built_report.verdict[0].startswith(
        "ssl beats scratch by 10.0 points at 50 labels (95% CI [+7.5, +12.5], "
        "Holm-adjusted p = 0.01; 3 of 3 folds positive (exact sign test p = 0.25), so this "
        "rests on the t-test's normality); no significant difference from 150 labels on."
    )
    # 0.1 and 0.3 have at most 100 labels per class: 5 pairs from 3 folds. Counted as pairs
    # the exact p would be 2/32; blocked by fold it is 2/2^3 = 0.25, its floor.
    assert (
        "over 3 independent folds (5 fold pairs; exact sign-flip p = 0.25, the smallest "
        "3 folds allow being 0.25; not significant)"
    ) in built_report.verdict[1]
    html = built_report.html.read_text()
    assert html.index('id="verdict"') < html.index('id="counts"')
    assert html.index(built_report.verdict[0][:30]) < html.index("<h2")
    cap, few, noisy = built_report.warnings[:3]
    assert sweep_factory.run_id(*sweep_factory.CAP_HIT) in cap
    assert "0.3 (2), 1 (2)" in few
    assert "0.1 (4 per class)" in noisy
    markdown = built_report.markdown.read_text()
    assert markdown.splitlines()[2] == f"**{built_report.verdict[0]}**"
    assert markdown.splitlines()[4] == f"**{built_report.verdict[1]}**"


def test_budget_table_and_per_class_gains(built_report):
    html = built_report.html.read_text()
    budget = re.search(r'<table id="budget-table">(.*?)</table>', html, re.S).group(1)
    assert budget.count("<tr>") == 17  # header + 16 finished runs
    assert "YES" in budget and "4 / 3" not in budget
    gains = re.search(r'<table id="class-gains">(.*?)</table>', html, re.S).group(1)
    assert gains.index("zero") < gains.index("one")  # the data set's order, not a ranking
    assert "+15.0 (3/3 folds)" in gains  # class zero at 0.1: 10 points + 2.5 + 2.5, every fold
    assert "Per-class gains (descriptive)" in html
    assert "Holm p" in html and "Low-label fractions" in html


def test_every_figure_is_also_an_svg(built_report):
    for path in built_report.figures:
        assert path.with_suffix(".svg").is_file(), path


def test_the_per_run_table_and_the_arms_settings_are_published(built_report):
    html = built_report.html.read_text()
    per_run = re.search(r'<table id="per-run-table">(.*?)</table>', html, re.S).group(1)
    assert per_run.count("<tr>") == 17  # header + 16 finished runs
    assert "Test CPU AVX2" in per_run and "reproducible in distribution" in html
    rows = list(csv.DictReader(built_report.per_run_csv.open()))
    ssl_fold0 = next(row for row in rows if row["run_id"] == "ssl-p0.1-fold0")
    assert float(ssl_fold0["test_accuracy"]) == pytest.approx(0.70)
    assert float(ssl_fold0["test_accuracy_without_recalibration"]) == pytest.approx(0.65)
    assert (ssl_fold0["updates"], ssl_fold0["best_update"], ssl_fold0["updates_after_best"]) == (
        "250.0",
        "200.0",
        "50.0",
    )
    assert (ssl_fold0["seed"], ssl_fold0["instruction_set"]) == ("0", "AVX2")
    arms = re.search(r'<table id="arms-table">(.*?)</table>', html, re.S).group(1)
    assert "as the sweep set them (not tuned)" in arms
    markdown = built_report.markdown.read_text()
    assert "## Per-run results" in markdown and "## Settings of each arm" in markdown


def test_the_pretext_probe_curve_is_shown(built_report):
    html = built_report.html.read_text()
    pretext = re.search(r'<table id="pretext-table">(.*?)</table>', html, re.S).group(1)
    assert "<th>k-NN probe acc % per epoch</th>" in pretext
    assert "50.00 → 60.00 → 65.00 → 64.00" in pretext
    assert "k-NN probe" in html
    markdown = built_report.markdown.read_text()
    assert "| 50.00 → 60.00 → 65.00 → 64.00 |" in markdown


def test_no_path_of_this_machine_appears_in_the_report(built_report):
    sweep_dir = built_report.sweep.directory
    cache = sweep_dir.parent / "pretrain"  # the backbone the ssl runs started from
    for path in (built_report.html, built_report.markdown):
        text = path.read_text()
        for machine_path in (str(sweep_dir.parent), str(cache), str(Path.cwd())):
            assert machine_path not in text, (path.name, machine_path)
    html = built_report.html.read_text()
    assert "digits-8px-resnet20w16-" in html  # the backbone is named by its cache key
    pretext = re.search(r'<table id="pretext-table">(.*?)</table>', html, re.S).group(1)
    assert "<th>best held-out rotation acc %</th>" in pretext
    markdown = built_report.markdown.read_text()
    assert "| backbone | epochs | final rotation acc % |" in markdown  # no snake_case headers


def test_every_table_scrolls_on_its_own_on_a_narrow_screen(built_report):
    html = built_report.html.read_text()
    tables = html.count("<table")
    assert tables >= 8
    assert len(re.findall(r'<div class="scroll">\s*<table', html)) == tables
    assert ".scroll { overflow-x: auto;" in html


@pytest.mark.slow
def test_a_volume_report_says_how_much_unlabelled_data_is_needed(tmp_path):
    runs = volume_factory.volume_sweep(volume_factory.plateau)
    sweep = SweepData(tmp_path / "sweep", "unlabeled_volume", None, {}, {}, runs, None, False)
    (report,) = build_reports(sweep, tmp_path / "out")
    answer = report.verdict[-1]
    assert answer.startswith("With 640 pretext updates at every volume, pretraining on 9,000 ")
    markdown = report.markdown.read_text()
    assert f"**{answer}**" in markdown
    section = markdown.split("## How much unlabelled data", 1)[1].split("\n## ", 1)[0]
    assert "**Smallest sufficient volume: 9,000 unlabelled images (a share of 0.15" in section
    assert "Folds are the independent units" in section
    assert "| unlabelled share | unlabelled images | pretext updates |" in section
    assert "| 0.0625 | 3,750 | 640 | +2.00 | +3.00 | [+3.00, +3.00] | 0.0156 | below |" in section
    assert "Gain per doubling of the unlabelled images: +0.97 points" in section
    assert "## Gain against unlabelled images" in markdown  # the per-fraction table stays
    html = report.html.read_text()
    table = re.search(r'<table id="volume-answer-table">(.*?)</table>', html, re.S).group(1)
    assert table.count("<tr>") == 6 and "not significantly below" in table
    assert 'id="volume-doubling"' in html and 'href="#volume-answer"' in html
    assert {path.name for path in report.figures} >= {"gain_vs_unlabeled.png"}
    assert any("ssl runs pretrained on all of the pool's images" in w for w in report.warnings)


def test_a_report_without_volumes_has_no_volume_section(built_report):
    assert "How much unlabelled data" not in built_report.markdown.read_text()
    assert 'id="volume-answer"' not in built_report.html.read_text()
    assert len(built_report.verdict) == 2
