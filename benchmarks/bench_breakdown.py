"""Where a demo run's seconds go in a long-lived sweep worker, component by component.

A probe process (``breakdown_probe.py``) plays one worker of the demo sweep: it
runs one fold's runs (every label fraction, ssl and scratch) through the sweep
worker's own code, with the environment the sweep gives a run, and charges each
second of each run to one component. Processes with W&B offline and disabled
alternate, round after round; with ``baseline`` (a git revision), processes
running that revision's sslexp alternate with this tree's too, so a change is
measured against what it replaced under the same machine load.
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_report import Row
from bench_startup import (
    BENCH_PRETEXT_EPOCHS,
    QUICK_OVERRIDES,
    REPOSITORY,
    RunPlaces,
    as_options,
    demo_settings,
    pretrain_command,
)

SECTION = "demo run breakdown"
PROBE = Path(__file__).resolve().parent / "breakdown_probe.py"
MODES = ("offline", "disabled")
CURRENT = "this tree"
NON_UPDATE_TARGET = 0.20
# The demo sweep gives each of its 2 workers 6 of its 12 runs.
RUNS_PER_WORKER = 6
QUICK_GRID = {"label_fraction": [0.2], "method": ["ssl", "scratch"]}


def worker_runs(quick: bool, runs: int | None = None) -> tuple[dict, list[dict]]:
    """The shared settings and one worker's grid points: fold 0, every fraction and method
    (the first ``runs`` of them)."""
    import yaml

    settings, _ = demo_settings()
    parameters = yaml.safe_load((REPOSITORY / "sweeps" / "demo.yaml").read_text())["parameters"]
    grid = {
        name: spec["values"]
        for name, spec in parameters.items()
        if name in ("label_fraction", "method")
    }
    settings["pretext_epochs"] = BENCH_PRETEXT_EPOCHS
    if quick:
        settings.update(
            {**QUICK_OVERRIDES, "budget": "converged", "max_updates": 20, "patience": 10}
        )
        grid = QUICK_GRID
    points = [
        {"label_fraction": fraction, "method": method}
        for fraction in grid["label_fraction"]
        for method in grid["method"]
    ]
    return settings, points[: runs or len(points)]


def run_requests(
    settings: dict, points: list[dict], places: RunPlaces, mode: str, tag: str
) -> list[dict]:
    """What the sweep hands a worker for each run: command line, environment, log."""
    from sslexp.runs.protocol import KEEP_COMPILED_ENV
    from sslexp.sweep.executor import KEPT_COMPILED_MODELS, run_environment

    requests = []
    for index, point in enumerate(points):
        name = f"{tag}-{index}-{point['method']}-{point['label_fraction']}"
        run_dir = places.output(name)
        run_dir.mkdir(parents=True, exist_ok=True)
        env = run_environment(
            {**os.environ, "WANDB_SILENT": "true"},
            sweep_name=tag,
            run_dir=run_dir,
            run_name=name,
            wandb_mode=mode,
            cuda_visible_devices=None,
        )
        env[KEEP_COMPILED_ENV] = str(KEPT_COMPILED_MODELS)
        arguments = [
            "train",
            *as_options({**settings, **point}),
            f"--cache-dir={places.data_cache}",
            f"--backbone-cache={places.backbones}",
            f"--output-dir={run_dir}",
        ]
        requests.append(
            {"name": name, "arguments": arguments, "env": env, "log": str(run_dir / "run.log")}
        )
    return requests


def run_probe(requests: list[dict], out_path: Path, source: Path, timeout_s: float) -> dict:
    """One worker process running ``requests`` with the sslexp found in ``source``."""
    requests_path = out_path.with_suffix(".requests.json")
    requests_path.write_text(json.dumps(requests))
    environment = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(source), os.environ.get("PYTHONPATH")])),
    }
    completed = subprocess.run(
        [sys.executable, str(PROBE), str(out_path), str(requests_path)],
        env=environment,
        cwd=out_path.parent,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    if completed.returncode != 0:
        logs = "".join(
            Path(request["log"]).read_text()[-2000:]
            for request in requests
            if Path(request["log"]).exists()
        )
        raise RuntimeError(
            f"breakdown probe failed (exit {completed.returncode}):\n"
            f"{completed.stderr[-3000:]}\n{logs[-3000:]}"
        )
    return json.loads(out_path.read_text())


def export_revision(revision: str, work_dir: Path) -> Path:
    """The sslexp package of ``revision``, in a directory of its own."""
    target = work_dir / f"baseline-{revision[:12]}"
    target.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(REPOSITORY), "archive", revision, "sslexp"],
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


@dataclasses.dataclass
class WorkerMeasurement:
    """One probe process: its worker start and each run's seconds by component."""

    imports_s: float
    runs: list[dict]

    def per_run(self) -> dict[str, float]:
        """Seconds a run of a demo worker spends in each component: a later run's (the median
        over the runs after the first, so that one disturbed run does not decide), plus what
        the worker's start and its first run cost beyond that, spread over the demo's runs
        per worker."""
        from breakdown_probe import COMPONENTS

        first, later = self.runs[0]["seconds"], [run["seconds"] for run in self.runs[1:]]
        later = later or [first]
        per_run = {}
        for name in COMPONENTS:
            steady = statistics.median(seconds.get(name, 0.0) for seconds in later)
            per_run[name] = steady + (first.get(name, 0.0) - steady) / RUNS_PER_WORKER
        return {WORKER_START: self.imports_s / RUNS_PER_WORKER, **per_run}

    def wall_per_run(self) -> float:
        """The same for the wall time measured around each run."""
        first, later = self.runs[0]["wall_s"], [run["wall_s"] for run in self.runs[1:]]
        steady = statistics.median(later or [first])
        return steady + (first - steady + self.imports_s) / RUNS_PER_WORKER


WORKER_START = f"worker start (imports; once per worker, spread over its {RUNS_PER_WORKER} runs)"


def total(per_run: dict[str, float]) -> float:
    return sum(per_run.values())


def non_update_share(per_run: dict[str, float]) -> float:
    from breakdown_probe import UPDATE_COMPONENTS

    return 1 - sum(per_run[name] for name in UPDATE_COMPONENTS) / total(per_run)


def median_per_run(measurements: list[WorkerMeasurement]) -> dict[str, float]:
    """Each component's median over the rounds (the table's seconds)."""
    rounds = [measurement.per_run() for measurement in measurements]
    return {name: statistics.median(one[name] for one in rounds) for name in rounds[0]}


def measure(
    settings: dict,
    points: list[dict],
    places: RunPlaces,
    rounds: int,
    sources: dict[str, Path],
    timeout_s: float,
) -> dict:
    """{(source, mode): [WorkerMeasurement per round]}, alternating the order each round."""
    variants = [(source, mode) for source in sources for mode in MODES]
    measured = {variant: [] for variant in variants}
    for round_index in range(rounds):
        order = variants if round_index % 2 == 0 else variants[::-1]
        for source, mode in order:
            tag = f"r{round_index}-{mode}-{'base' if source != CURRENT else 'tree'}"
            print(
                f"[bench] breakdown round {round_index + 1}/{rounds}: {source}, W&B {mode}",
                flush=True,
            )
            result = run_probe(
                run_requests(settings, points, places, mode, tag),
                places.root / f"{tag}.json",
                sources[source],
                timeout_s,
            )
            measured[(source, mode)].append(WorkerMeasurement(result["imports_s"], result["runs"]))
    return measured


def component_rows(per_mode: dict[str, dict[str, float]]) -> list[Row]:
    rows = []
    for name in per_mode["offline"]:
        cells = []
        for mode in MODES:
            seconds = per_mode[mode][name]
            cells.append(f"{mode} {seconds:.2f} s ({seconds / total(per_mode[mode]):.1%})")
        rows.append(Row(SECTION, name, "; ".join(cells)))
    return rows


def summary_rows(
    per_mode: dict[str, dict[str, float]], measured: dict, label: str = ""
) -> list[Row]:
    rows = []
    for mode in MODES:
        per_run = per_mode[mode]
        shares = [non_update_share(m.per_run()) for m in measured[(CURRENT, mode)]]
        rows.append(
            Row(
                SECTION,
                f"W&B {mode}: seconds a run{label}",
                f"{total(per_run):.1f} s",
                note="wall per run measured around each run: "
                + ", ".join(f"{m.wall_per_run():.1f}" for m in measured[(CURRENT, mode)])
                + " s (rounds)",
            )
        )
        share = non_update_share(per_run)
        target = ""
        if mode == "offline":
            target = f"<= {NON_UPDATE_TARGET:.0%}, " + (
                "met" if share <= NON_UPDATE_TARGET else "missed"
            )
        rows.append(
            Row(
                SECTION,
                f"W&B {mode}: non-update share of a run{label}",
                f"{share:.0%}",
                target,
                note=f"rounds {min(shares):.0%}-{max(shares):.0%}; everything but "
                "the optimizer updates after the first step",
            )
        )
    return rows


def comparison_rows(measured: dict, baseline: str) -> list[Row]:
    """This tree against the baseline revision, per mode: seconds a run, non-update share,
    and the components that moved by more than a tenth of a second."""
    rows = []
    for mode in MODES:
        before = median_per_run(measured[("baseline", mode)])
        after = median_per_run(measured[(CURRENT, mode)])
        ratios = [
            total(a.per_run()) / total(b.per_run())
            for a, b in zip(measured[(CURRENT, mode)], measured[("baseline", mode)])
        ]
        moved = [
            f"{name.split(' (')[0]} {before[name]:.2f} -> {after[name]:.2f} s"
            for name in after
            if abs(after[name] - before[name]) >= 0.1
        ]
        rows.append(
            Row(
                SECTION,
                f"W&B {mode}: this tree against {baseline[:12]}, seconds a run",
                f"{total(before):.1f} -> {total(after):.1f} s "
                f"({total(after) / total(before):.2f}x)",
                note=f"rounds {min(ratios):.2f}-{max(ratios):.2f}x; " + "; ".join(moved),
            )
        )
        rows.append(
            Row(
                SECTION,
                f"W&B {mode}: non-update share, {baseline[:12]} -> this tree",
                f"{non_update_share(before):.0%} -> {non_update_share(after):.0%}",
            )
        )
    return rows


def breakdown_rows(
    work_dir: Path,
    quick: bool,
    rounds: int = 3,
    baseline: str | None = None,
    runs: int | None = None,
    timeout_s: float = 1800,
) -> tuple[list[Row], dict, str]:
    """Per-run components (median over rounds) with W&B offline and disabled, the non-update
    share, and with ``baseline`` this tree against that revision."""
    work_dir.mkdir(parents=True, exist_ok=True)
    places = RunPlaces(work_dir)
    settings, points = worker_runs(quick, runs)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "sslexp", *pretrain_command(settings, places)],
        cwd=work_dir,
        check=True,
        capture_output=True,
        timeout=timeout_s,
        env={
            **os.environ,
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")])
            ),
        },
    )
    pretrain_s = time.perf_counter() - started
    sources = {CURRENT: REPOSITORY}
    if baseline:
        sources["baseline"] = export_revision(baseline, work_dir)
    measured = measure(settings, points, places, rounds, sources, timeout_s)
    per_mode = {mode: median_per_run(measured[(CURRENT, mode)]) for mode in MODES}
    rows = component_rows(per_mode) + summary_rows(per_mode, measured)
    if baseline:
        rows += comparison_rows(measured, baseline)
    raw = {
        "per_mode": per_mode,
        "non_update_share": {mode: non_update_share(per_mode[mode]) for mode in MODES},
    }
    described = (
        f"demo run breakdown: a worker's runs of the demo grid ({len(points)} runs: "
        + ", ".join(f"{p['method']} {p['label_fraction']}" for p in points)
        + "), "
        f"fold 0, max_updates {settings['max_updates']}, in a probe process playing a "
        "sweep worker; seconds a run = a later run's (median) + (first run's extra + "
        f"worker start) / {RUNS_PER_WORKER}, the demo's runs per worker; W&B offline and "
        f"disabled alternating, {rounds} rounds, medians over rounds"
        + (f"; against revision {baseline} alternating too" if baseline else "")
        + f"; backbone pretrained first ({pretrain_s:.0f} s)"
    )
    return rows, raw, described
