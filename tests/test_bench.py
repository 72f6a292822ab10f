"""The benchmark's smallest path runs and writes every row (timings are not checked)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

BENCH_DIR = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH_DIR))

import bench_startup  # noqa: E402
import bench_sweep  # noqa: E402
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


@pytest.mark.slow
def test_quick_bench_writes_the_table_and_prints_it_last(tmp_path):
    out = tmp_path / "RESULTS.md"
    completed = subprocess.run(
        [
            sys.executable,
            str(BENCH_DIR / "bench.py"),
            "--quick",
            "--skip-startup",
            "--skip-sweep",
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


def test_sweep_rows_compare_the_two_modes_on_the_same_sweep(tmp_path, monkeypatch):
    commands = []

    def fake_sslexp(arguments, work_dir, timeout_s):
        commands.append(arguments)
        return 10.0 if "--isolate" in arguments else 5.0

    monkeypatch.setattr(bench_sweep, "sslexp", fake_sslexp)
    monkeypatch.setattr(bench_sweep, "test_accuracies", lambda sweep_dir: {"a": 0.5, "b": 0.7})
    rows, raw, described = bench_sweep.sweep_rows(tmp_path, quick=True)
    assert [arguments[:2] for arguments in commands] == [
        ["sweep", "pretrain"],
        ["sweep", "local"],
        ["sweep", "local"],
    ]
    assert len({arguments[2] for arguments in commands}) == 1  # one sweep file for all three
    assert raw["ratio"] == 0.5 and raw["identical"]
    assert rows[-1].target == "<= 0.6x, met" and "identical" in rows[-1].note
    quick = yaml.safe_load(Path(commands[0][2]).read_text())["parameters"]
    assert quick["image_size"] == {"value": 8} and quick["method"]["values"] == ["ssl", "scratch"]
