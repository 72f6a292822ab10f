"""The results page for docs/: reproduce, wall time, revision and CPU, then the report."""

import csv
import datetime

from click.testing import CliRunner

from sslexp.report.build import build_local_report
from sslexp.report.collect import SweepRun
from sslexp.report.results_page import (
    duration,
    measure,
    previous_rows,
    sweep_notes,
    write_page,
)
from sslexp.runs.record import Record


def timed_run(run_id, started, finished, wall, revision="abc", dirty=False, cores=None):
    record = Record(
        kind="train",
        state="finished",
        started_at=started,
        finished_at=finished,
        wall_time_s=wall,
        provenance={
            "git": {"revision": revision, "dirty": dirty},
            "cpu": {"model": "Test CPU", "instruction_set": "AVX2", "cores": cores},
            "versions": {"tensorflow": "2.21.0", "keras": "3.15.1"},
        },
    )
    return SweepRun(run_id, None, "finished", {}, record)


def test_wall_time_counts_while_runs_were_going_and_run_time_adds_up():
    runs = [
        timed_run("a", "2026-01-01T10:00:00+00:00", "2026-01-01T10:20:00+00:00", 1200),
        timed_run("b", "2026-01-01T10:05:00+00:00", "2026-01-01T10:31:30+00:00", 1590),
        timed_run("c", "2026-01-01T10:02:00+00:00", "2026-01-01T10:10:00+00:00", 480, "def", True),
        timed_run("f", "2026-01-01T10:02:00+00:00", "2026-01-01T10:03:00+00:00", 60, cores=2),
        # resumed an hour later: the pause is not wall time of the sweep
        timed_run("e", "2026-01-01T11:31:30+00:00", "2026-01-01T11:33:30+00:00", 120),
        SweepRun("d", None, "failed", {}, Record(kind="train", state="failed")),
    ]
    measured = measure(runs)
    assert measured.runs == 5
    assert measured.busy_seconds == (31.5 + 2) * 60
    assert measured.run_seconds == 1200 + 1590 + 480 + 120 + 60
    assert measured.revisions == [("abc", False, 4), ("def", True, 1)]
    assert measured.cpus == [("Test CPU, AVX2", 4), ("Test CPU, AVX2, 2 cores", 1)]
    assert measured.first_start == datetime.datetime(2026, 1, 1, 10, tzinfo=datetime.timezone.utc)


def test_durations_read_naturally():
    assert duration(45.4) == "45 s"
    assert duration(23 * 60 + 10) == "23 min 10 s"
    assert duration(3600 + 4 * 60 + 59) == "1 h 04 min"
    assert duration(None) == "unknown"


def test_the_sweep_files_header_comment_is_what_the_page_quotes():
    yaml_text = "# Sized for 2 cores:\n#   - cut: folds 6-9\n#\nname: x\n# not this\n"
    assert sweep_notes(yaml_text) == ["Sized for 2 cores:", "  - cut: folds 6-9", ""]
    assert sweep_notes(None) == []


def test_a_previous_comparison_sets_each_gap_beside_the_new_one(sweep_dir, tmp_path):
    report = build_local_report(sweep_dir, tmp_path / "report")
    previous = tmp_path / "previous.csv"
    with previous.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, ["label_fraction", "ssl_mean", "scratch_mean"])
        writer.writeheader()
        writer.writerow({"label_fraction": 0.1, "ssl_mean": 0.80, "scratch_mean": 0.60})
        writer.writerow({"label_fraction": 0.7, "ssl_mean": 0.9, "scratch_mean": 0.8})
    rows = previous_rows(previous, report.comparison)
    assert [row["label fraction"] for row in rows] == ["0.1"]  # 0.7 is not in this sweep
    row = rows[0]
    assert row["gap then (pp)"] == "+20.00"
    now = report.comparison.rows[0].difference.mean
    assert row["gap now (pp)"] == f"{100 * now:+.2f}"
    assert row["gap removed"] == f"{100 * (1 - now / 0.2):.0f}%"


def test_the_page_leads_with_how_to_reproduce_and_links_its_own_copies(sweep_dir, tmp_path):
    report = build_local_report(sweep_dir, tmp_path / "report")
    docs = tmp_path / "docs" / "results"
    (docs / "study").mkdir(parents=True)
    (docs / "study" / "stale_figure.png").write_bytes(b"old")
    previous = tmp_path / "previous.csv"
    previous.write_text("label_fraction,ssl_mean,scratch_mean\n0.1,0.8,0.6\n")
    page = write_page(docs / "study.md", report, "make study", previous, "lr 0.002 for both")
    text = page.read_text()
    assert text.startswith("# demo")
    assert "```bash\nmake study\n```" in text
    assert "**1 min 00 s wall time**" in text
    assert "Revision: `0123abcd` (16 runs)" in text
    assert "CPU: Test CPU, AVX2 (16 runs); tensorflow 2.21.0, keras 3.15.0." in text
    assert "## The report" in text and "## Per-run results" in text
    assert "`previous.csv` (lr 0.002 for both) beside this sweep" in text
    assert "| 0.1 | 50 | 80.00 | 60.00 | +20.00 |" in text
    assert "](study/accuracy_vs_labels.png)" in text and "](figures/" not in text
    assert (docs / "study" / "accuracy_vs_labels.png").exists()
    assert (docs / "study" / "per_run.csv").exists()
    assert not (docs / "study" / "stale_figure.png").exists()
    assert not list(docs.glob("*.tmp"))


def test_report_page_option_writes_the_page(sweep_dir, tmp_path):
    from sslexp.cli import main

    page = tmp_path / "page.md"
    result = CliRunner().invoke(
        main,
        ["report", str(sweep_dir), "--no-pictures", "--page", str(page)],
    )
    assert result.exit_code == 0, result.output
    assert f"Page: {page}" in result.output
    assert f"sslexp sweep local {sweep_dir / 'sweep.yaml'} --dir {sweep_dir}" in page.read_text()


def test_previous_without_a_page_is_refused_by_name(sweep_dir, tmp_path):
    from sslexp.cli import main

    previous = tmp_path / "previous.csv"
    previous.write_text("label_fraction,ssl_mean,scratch_mean\n")
    result = CliRunner().invoke(
        main, ["report", str(sweep_dir), "--no-pictures", "--previous", str(previous)]
    )
    assert result.exit_code == 2
    assert "--previous" in result.output and "add --page FILE" in result.output


def test_the_backbone_line_says_how_long_pretraining_took():
    from pathlib import Path

    from sslexp.report.collect import PretrainRun
    from sslexp.report.results_page import backbone_line

    def backbone(seconds):
        record = Record(kind="pretrain", state="finished", wall_time_s=seconds)
        return PretrainRun(Path("b"), Path("b"), record, ["ssl-a"])

    assert backbone_line([]) is None
    assert (
        backbone_line([backbone(38.2)])
        == "- Backbones: 1 used by the ssl runs, pretrained in 38 s."
    )
    assert backbone_line([backbone(45), backbone(83)]) == (
        "- Backbones: 2 used by the ssl runs, each pretrained in 45 s to 1 min 23 s "
        "(2 min 08 s in all)."
    )


def test_a_baselines_runs_are_not_timed_as_the_sweeps_own(tmp_path):
    from types import SimpleNamespace

    from sslexp.report.results_page import own_runs

    own = SweepRun("ssl-a", tmp_path / "volume" / "runs" / "ssl-a", "finished", {})
    lent = SweepRun("scratch-a", tmp_path / "study" / "runs" / "scratch-a", "finished", {})
    sweep = SimpleNamespace(directory=tmp_path / "volume", runs=[own, lent])
    assert own_runs(sweep) == [own]


def test_backbone_pretraining_before_the_runs_counts_as_wall_time():
    from pathlib import Path

    from sslexp.report.collect import PretrainRun

    run = timed_run("ssl-a", "2026-01-01T10:05:00+00:00", "2026-01-01T10:06:00+00:00", 60)
    record = Record(
        kind="pretrain",
        state="finished",
        started_at="2026-01-01T10:00:00+00:00",
        finished_at="2026-01-01T10:05:00+00:00",
    )
    backbone = PretrainRun(Path("b"), Path("b"), record, ["ssl-a"])
    assert measure([run]).busy_seconds == 60
    assert measure([run], [backbone]).busy_seconds == 6 * 60
    assert measure([run], [backbone]).run_seconds == 60
