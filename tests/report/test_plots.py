"""The report's charts read at the strength of their statistics: no interval from too few
pairs, no interval that flattens the rest, and pretext curves that stay legible with ten
backbones."""

import html
import json
import re

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection

from sslexp.report import plots
from sslexp.report.collect import PretrainRun
from sslexp.report.stats import paired_difference
from sslexp.runs.record import load_record
from tests.report import sweep_factory


def drawn(figure):
    FigureCanvasAgg(figure)
    figure.draw_without_rendering()
    return figure.canvas.get_renderer()


def interval_bars(axis) -> list[tuple[float, float]]:
    """(low, high) of every vertical error bar drawn on ``axis``."""
    bars = []
    for collection in axis.collections:
        if isinstance(collection, LineCollection):
            for segment in collection.get_segments():
                (_, first), (_, second) = segment[0], segment[-1]
                bars.append((min(first, second), max(first, second)))
    return bars


def annotations(axis) -> list[str]:
    return [text.get_text() for text in axis.texts]


def test_two_pairs_draw_no_interval_and_say_n_equals_2():
    two_pairs = paired_difference([0.80, 0.55], [0.60, 0.65])  # +20 and -10 points
    assert two_pairs.ci_high - two_pairs.ci_low > 1.0  # the t-interval spans 100+ points
    figure = plots.Figure()
    axis = figure.subplots()
    plots.draw_differences(axis, [50, 150], [two_pairs, two_pairs], "green", "mean")
    assert interval_bars(axis) == []
    assert annotations(axis).count("n = 2") == 2
    low, high = axis.get_ylim()
    assert high - low < 60  # the plot keeps the scale of the means, not of the interval


def test_an_interval_wider_than_the_data_is_cut_at_the_edge_with_its_true_end():
    steady = paired_difference([0.71, 0.72, 0.73, 0.70], [0.66, 0.67, 0.68, 0.66])
    wild = paired_difference([0.90, 0.50, 0.72], [0.60, 0.70, 0.65])
    figure = plots.Figure()
    axis = figure.subplots()
    plots.draw_differences(axis, [50, 150], [steady, wild], "green", "mean")
    low, high = axis.get_ylim()
    bars = interval_bars(axis)
    assert len(bars) == 2
    assert all(low <= bar_low and bar_high <= high for bar_low, bar_high in bars)
    true_high = 100 * wild.ci_high
    assert true_high > high  # it would not fit ...
    assert f"to {true_high:+.0f}" in annotations(axis)  # ... so the arrow gives its end
    steady_bar = min(bars, key=lambda bar: bar[1] - bar[0])
    assert steady_bar[1] - steady_bar[0] > 0.05 * (high - low)  # still readable


def test_every_line_of_the_gain_plot_fits_not_only_the_last_one_drawn():
    from sslexp.report.comparison import VolumeRow

    high_gain = paired_difference([0.70, 0.72, 0.74, 0.71], [0.60, 0.61, 0.62, 0.60])
    small_gain = paired_difference([0.75, 0.76, 0.74, 0.75], [0.75, 0.75, 0.75, 0.74])
    rows = [
        VolumeRow(fraction, share, share * 60000, difference)
        for fraction, difference in ((0.001, high_gain), (0.005, small_gain))
        for share in (0.1, 1.0)
    ]
    axis = plots.gain_vs_unlabeled(rows).axes[0]
    low, high = axis.get_ylim()
    assert all(low <= bar_low and bar_high <= high for bar_low, bar_high in interval_bars(axis))
    assert high > 100 * high_gain.ci_high


@pytest.mark.slow
def test_the_two_fold_report_marks_every_interval_it_cannot_draw(tmp_path, monkeypatch):
    monkeypatch.setattr(sweep_factory, "FOLDS", (0, 1))
    report = build_two_fold_report(tmp_path)
    figure = plots.difference_vs_labels(report.comparison)
    (axis,) = figure.axes
    low, high = axis.get_ylim()
    for bar_low, bar_high in interval_bars(axis):
        assert bar_high - bar_low <= high - low
    rows = [row for row in report.comparison.rows if row.difference.n_pairs]
    assert all(row.difference.n_pairs < 3 for row in rows)
    assert interval_bars(axis) == []
    texts = annotations(axis)
    assert texts.count("n = 2") == sum(row.difference.n_pairs == 2 for row in rows)
    assert texts.count("n = 1") == sum(row.difference.n_pairs == 1 for row in rows)


@pytest.mark.slow
def test_efficiency_at_the_edge_of_the_scratch_curve_prints_as_a_bound(tmp_path, monkeypatch):
    monkeypatch.setattr(sweep_factory, "FOLDS", (0, 1))
    report = build_two_fold_report(tmp_path)
    markdown = html.unescape(report.markdown.read_text())
    (largest,) = [
        line for line in markdown.splitlines() if line.startswith("| 1 | 500 |") and "x" in line
    ]
    # ssl beats scratch's best mean: every resample ends at the last scratch point, 500 labels
    assert "| > 1.00x | [> 1.00x, > 1.00x] |" in largest
    assert not re.search(r"(\[|, )1\.00x", markdown)  # no clamp printed as a plain value


def build_two_fold_report(tmp_path):
    from sslexp.report.build import build_local_report

    return build_local_report(sweep_factory.write_sweep(tmp_path))


def ten_backbones(tmp_path) -> list[PretrainRun]:
    """Ten pretrainings that differ in unlabelled images (5 sizes) and pretext seed (2)."""
    pretrains = []
    for index in range(10):
        share, seed = (0.1, 0.2, 0.4, 0.6, 1.0)[index // 2], index % 2
        directory = tmp_path / f"backbone-{index}"
        backbone = sweep_factory.write_pretrain(directory, with_models=False)
        results = json.loads((directory / "results.json").read_text())
        results["config"]["pretext"] = {"unlabeled_fraction": share, "seed": seed}
        results["data"]["n_pretext_images"] = int(share * 30_000)
        for epoch in results["history"]:
            epoch["val_accuracy"] += 0.01 * index
        (directory / "results.json").write_text(json.dumps(results))
        pretrains.append(
            PretrainRun(backbone, directory, load_record(directory).record, [f"ssl-{index}"])
        )
    return pretrains


def test_ten_backbones_keep_their_curves_clear_of_the_legend(tmp_path):
    figure = plots.pretext_curves(ten_backbones(tmp_path))
    renderer = drawn(figure)
    (legend,) = figure.legends
    box = legend.get_window_extent(renderer)
    for axis in figure.axes:
        assert not box.overlaps(axis.get_window_extent(renderer))
    assert box.x1 <= figure.bbox.x1 and box.y0 >= 0 and box.y1 <= figure.bbox.y1
    labels = [text.get_text() for text in legend.get_texts()]
    assert "3,000 images, seed 0" in labels and "30,000 images, seed 1" in labels
    assert not any("px-resnet" in label for label in labels)  # no cache keys


def test_each_backbone_has_one_colour_and_a_line_style_per_split(tmp_path):
    figure = plots.pretext_curves(ten_backbones(tmp_path))
    accuracy_axis = figure.axes[0]
    curves = [line for line in accuracy_axis.get_lines() if len(line.get_xdata()) > 2]
    assert len(curves) == 30  # training, held-out and k-NN probe per backbone
    colours = [
        tuple(np.round(plots.matplotlib.colors.to_rgba(line.get_color()), 3)) for line in curves
    ]
    assert len(set(colours)) == 10
    for train, held_out, probe in zip(curves[::3], curves[1::3], curves[2::3]):
        assert train.get_color() == held_out.get_color() == probe.get_color()
        assert (train.get_linestyle(), held_out.get_linestyle(), probe.get_linestyle()) == (
            "-",
            "--",
            "-.",
        )
