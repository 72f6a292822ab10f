"""The report writes every number one way, and no path of the machine it ran on."""

import math
from pathlib import Path

from sslexp.report import format


def test_missing_nan_text_and_bools_all_read_n_a():
    for value in (None, math.nan, "abc", True):
        assert format.percent(value) == format.count(value) == format.points(value) == "n/a"
        assert format.optional_number(value) is None and math.isnan(format.number(value))


def test_numbers_are_written_as_the_tables_and_the_verdict_need_them():
    assert format.percent(0.87314) == "87.31"
    assert format.points(0.031, signed=True) == "+3.10"
    assert format.points(-0.031, signed=True, digits=1) == "-3.1"
    assert format.count(12345.4) == "12,345"
    assert (
        format.mean_std(0.72, 0.0173) == "72.00 ± 1.73" and format.mean_std(0.72, None) == "72.00"
    )
    assert format.p_value(0.0004) == "0.0004" and format.p_value(0.0612) == "0.061"
    assert format.ratio(1.0, "<= ") == "<= 1.00x"


def test_paths_are_shown_relative_to_the_sweep_or_the_project(tmp_path):
    sweep, project = tmp_path / "project" / "sweep-runs" / "demo", tmp_path / "project"
    cache = project / "artifacts" / "backbones" / "digits-16px-abc"
    assert format.shown_path(sweep / "runs" / "ssl-p0.1", [sweep, project]) == "runs/ssl-p0.1"
    assert format.shown_path(cache, [sweep, project]) == "artifacts/backbones/digits-16px-abc"
    assert format.shown_path(Path("/elsewhere/backbone"), [sweep, project]) == "backbone"
    note = f"Pretraining {cache}: results.json is not valid JSON."
    assert format.without_machine_paths(note, [sweep, project]) == (
        "Pretraining artifacts/backbones/digits-16px-abc: results.json is not valid JSON."
    )
