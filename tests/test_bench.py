"""The benchmark's smallest paths run and write every row (timings are not checked)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

BENCH_DIR = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH_DIR))

import bench  # noqa: E402
import bench_breakdown  # noqa: E402
import bench_report  # noqa: E402
import bench_startup  # noqa: E402
import bench_sweep  # noqa: E402
import breakdown_probe  # noqa: E402
import startup_probe  # noqa: E402

THROUGHPUT_ROWS = (
    "tensorflow: sslexp pipeline + fit",
    "tensorflow: reference, np.rot90 up front + fit on arrays",
    "tensorflow: sslexp / reference",
    "tensorflow: model compute (training)",
    "input batches alone (no model)",
    "reference's up-front rotation",
)
STARTUP_ROWS = (
    "cold run (empty data cache), scratch: launch to first step",
    "warm run, ssl (cached data and backbone): launch to first step",
    "warm run, scratch: launch to first step",
    "next run in the same process: its start to first step",
    "demo run wall time (warm, ssl): launch to end of run",
    "warm start-up share of a demo run, one process per run",
    "demo run in a long-lived worker (its second run): start to first step",
    "warm start-up share of a demo run, long-lived worker",
    "sslexp pretrain (demo pretext settings)",
    "sslexp train (demo settings, ssl, warm)",
)


def test_quick_bench_writes_the_table_and_prints_it_last(tmp_path):
    out = tmp_path / "RESULTS.md"
    completed = subprocess.run(
        [
            sys.executable,
            str(BENCH_DIR / "bench.py"),
            "--quick",
            "--skip-startup",
            "--skip-sweep",
            "--skip-breakdown",
            "--backends=tensorflow",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "WANDB_MODE": "disabled", "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    text = out.read_text()
    for heading in ("CPU", "RAM", "libraries", "git revision", "date", "Command: `python "):
        assert heading in text
    for measurement in THROUGHPUT_ROWS:
        assert measurement in text
    assert "skipped: --skip-startup" in text and "skipped: --skip-sweep" in text
    assert "skipped: --skip-breakdown" in text
    assert "skipped: no GPU" in text or "matmul rate" in text
    table_lines = [line for line in text.splitlines() if line.startswith("| ")]
    assert completed.stdout.rstrip().endswith(table_lines[-1])


def fake_probe(
    command_lines: list[list[str]], marks_path: Path, timeout_s: float, keep_compiled: bool = False
):
    """What a probe process reports, without starting one: each run 1 s to its first step."""
    runs, clock = [], 8.0
    for arguments in command_lines:
        runs.append(
            {
                "arguments": arguments,
                "run_begin": clock,
                "data_load_begin": clock + 0.1,
                "data_load_end": clock + 0.2,
                "fit_called": clock + 0.5,
                "first_step_begin": clock + 1.0,
                "first_step_end": clock + 5.0,
                "fit_end": clock + 6.0,
                "run_end": clock + 7.0,
                "fit_calls": 1,
            }
        )
        clock += 7.0
    return bench_startup.ProbeResult(
        runs=runs, imports_done=7.0, interpreter_ready=0.1, peak_rss_mib=700.0, wall_s=clock + 0.5
    )


@pytest.mark.parametrize("quick", [True, False])
def test_startup_rows_cover_every_measurement(tmp_path, monkeypatch, quick):
    monkeypatch.setattr(bench_startup, "run_probe", fake_probe)
    rows, raw, described = bench_startup.startup_rows(tmp_path, quick=quick)
    measurements = [row.measurement for row in rows]
    for measurement in STARTUP_ROWS:
        assert measurement in measurements
    assert raw["reused"] == pytest.approx(1.0)
    assert raw["cold"] == pytest.approx(9.0)
    assert "dataset" in described


def test_warm_ssl_run_that_pretrains_again_is_reported(tmp_path, monkeypatch):
    def pretraining_again(command_lines, marks_path, timeout_s, keep_compiled=False):
        probe = fake_probe(command_lines, marks_path, timeout_s)
        for run in probe.runs:
            run["fit_calls"] = 2
        return probe

    monkeypatch.setattr(bench_startup, "run_probe", pretraining_again)
    with pytest.raises(RuntimeError, match="pretrained again"):
        bench_startup.startup_rows(tmp_path, quick=True)


def test_demo_settings_pass_as_sweep_style_options():
    settings, origin = bench_startup.demo_settings()
    assert {"dataset", "image_size", "depth", "width"} <= set(settings)
    options = bench_startup.as_options(settings)
    assert all(option.startswith("--") and "=" in option for option in options)


def test_probe_splits_command_lines():
    lines = startup_probe.split_command_lines(["--", "train", "--epochs=1", "--", "pretrain"])
    assert lines == [["train", "--epochs=1"], ["pretrain"]]
    assert startup_probe.peak_rss_mib() > 0


def test_sweep_rounds_alternate_the_four_sweeps_and_give_medians(tmp_path, monkeypatch):
    commands = []
    walls = iter(
        [
            10.0,
            5.0,
            8.0,
            4.0,  # round 1: isolated then persistent, offline first
            3.0,
            6.0,
            6.0,
            12.0,
        ]
    )  # round 2, reversed: disabled first

    def fake_sslexp(arguments, work_dir, timeout_s):
        commands.append(arguments)
        return 60.0 if arguments[1] == "pretrain" else next(walls)

    monkeypatch.setattr(bench_sweep, "sslexp", fake_sslexp)
    monkeypatch.setattr(bench_sweep, "test_accuracies", lambda sweep_dir: {"a": 0.5, "b": 0.7})
    rows, raw, described = bench_sweep.sweep_rows(tmp_path, quick=True, rounds=2)
    assert [arguments[:2] for arguments in commands] == [["sweep", "pretrain"]] + [
        ["sweep", "local"]
    ] * 8
    assert len({arguments[2] for arguments in commands}) == 1  # one sweep file for all
    order = [(("--isolate" in arguments), arguments[5]) for arguments in commands[1:]]
    assert order[:4] == [
        (True, "--wandb-mode=offline"),
        (False, "--wandb-mode=offline"),
        (True, "--wandb-mode=disabled"),
        (False, "--wandb-mode=disabled"),
    ]
    assert order[4:] == order[:4][::-1]
    assert raw["ratios"]["offline"] == [0.5, 0.5] and raw["ratios"]["disabled"] == [0.5, 0.5]
    assert raw["identical"] and "2 rounds" in described
    ratio_rows = [row for row in rows if row.measurement.endswith("one process per run")]
    assert [row.target for row in ratio_rows] == ["<= 0.6x, met"] * 2
    assert rows[0].result == "11 s (range 10-12, n=2)"
    quick = yaml.safe_load(Path(commands[0][2]).read_text())["parameters"]
    assert quick["image_size"] == {"value": 8} and quick["method"]["values"] == ["ssl", "scratch"]


def test_rows_of_sections_not_run_are_carried_over_with_their_origin():
    previous = "\n".join(
        [
            "| Machine |  |",
            "| --- | --- |",
            "| git revision | 0123456789abcdef |",
            "| date | 2026-11-30 07:19 UTC |",
            "| load average at start (1, 5, 15 min) | 0.7, 3.2 |",
            "",
            "Settings:",
            "",
            "- pretext throughput: fashion_mnist 28x28",
            "- demo sweep: demo.yaml (12 runs)",
            "- load average at the end (1, 5, 15 min): 4.6, 4.2, 3.6",
            "",
            "| Section | Measurement | Result | Target | Notes |",
            "| --- | --- | --- | --- | --- |",
            "| pretext throughput | tensorflow: sslexp / reference | 1.35x | >= 2x, missed |  |",
            "| demo sweep | long-lived / one process per run | 0.65x | <= 0.6x, missed | old |",
        ]
    )
    rows, settings = bench_report.carried_over(
        previous, {"demo sweep"}, ["demo sweep: demo.yaml, 3 rounds"]
    )
    assert [(row.section, row.result) for row in rows] == [("pretext throughput", "1.35x")]
    assert rows[0].note == (
        "carried over from the run of 2026-11-30 07:19 UTC, revision 0123456789ab"
    )
    origin = "(carried over from the run of 2026-11-30 07:19 UTC, revision 0123456789ab)"
    assert settings == [
        f"load average at start (1, 5, 15 min): 0.7, 3.2 {origin}",
        f"pretext throughput: fashion_mnist 28x28 {origin}",
        f"load average at the end (1, 5, 15 min): 4.6, 4.2, 3.6 {origin}",
    ]


def test_only_rejects_a_section_it_does_not_know(capsys):
    with pytest.raises(SystemExit):
        bench.parse_arguments(["--only", "breakdown,speed"])
    assert "unknown sections speed" in capsys.readouterr().err


def test_exclusive_clock_charges_each_second_to_the_innermost_component():
    clock = breakdown_probe.ExclusiveClock()
    with clock.component("run"):
        time.sleep(0.02)
        with clock.component("fit"):
            time.sleep(0.05)
            with clock.component("validation"):
                time.sleep(0.03)
    seconds = clock.take()
    assert set(seconds) == {"run", "fit", "validation"}
    assert seconds["fit"] >= 0.05 and 0.03 <= seconds["validation"] < 0.05
    assert 0.1 <= sum(seconds.values()) < 0.2 and clock.take() == {}


def test_a_worker_run_is_a_later_run_plus_the_first_runs_extra_spread_over_the_worker():
    components = breakdown_probe.COMPONENTS
    runs = [
        {
            "wall_s": 24.0,
            "seconds": {breakdown_probe.FIRST_STEP: 12.0, breakdown_probe.UPDATES: 12.0},
        },
        {
            "wall_s": 12.0,
            "seconds": {breakdown_probe.FIRST_STEP: 0.0, breakdown_probe.UPDATES: 12.0},
        },
    ]
    measured = bench_breakdown.WorkerMeasurement(imports_s=6.0, runs=runs)
    per_run = measured.per_run()
    assert set(per_run) == {bench_breakdown.WORKER_START, *components}
    assert per_run[bench_breakdown.WORKER_START] == pytest.approx(1.0)
    assert per_run[breakdown_probe.FIRST_STEP] == pytest.approx(2.0)
    assert per_run[breakdown_probe.UPDATES] == pytest.approx(12.0)
    assert bench_breakdown.non_update_share(per_run) == pytest.approx(3 / 15)
    assert measured.wall_per_run() == pytest.approx(12.0 + (12.0 + 6.0) / 6)


@pytest.mark.slow
def test_breakdown_section_runs_at_quick_size_and_charges_every_second(tmp_path):
    rows, raw, described = bench_breakdown.breakdown_rows(
        tmp_path, quick=True, rounds=1, timeout_s=900
    )
    measurements = [row.measurement for row in rows]
    for name in (bench_breakdown.WORKER_START, *breakdown_probe.COMPONENTS):
        assert name in measurements
    assert "W&B offline: non-update share of a run" in measurements
    for mode in bench_breakdown.MODES:
        assert 0 < raw["non_update_share"][mode] < 1
        assert raw["per_mode"][mode][breakdown_probe.UPDATES] > 0
    assert raw["per_mode"]["disabled"][breakdown_probe.WANDB_START] == 0
    assert raw["per_mode"]["offline"][breakdown_probe.WANDB_START] > 0
    assert "2 runs" in described


@pytest.mark.slow
def test_sweep_section_runs_one_round_at_quick_size(tmp_path):
    rows, raw, described = bench_sweep.sweep_rows(tmp_path, quick=True, rounds=1)
    assert raw["identical"]
    assert set(raw["ratios"]) == {"offline", "disabled"}
    assert len(rows) == 7 and "1 rounds" in described
