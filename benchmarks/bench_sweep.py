"""The demo sweep end to end, with long-lived workers (the default) against one
process per run (``--isolate``), as ``make demo`` runs it: two workers, with W&B
offline (the demo's default) and disabled.

The backbone the ssl runs use is pretrained first (``sslexp sweep pretrain``), so
every sweep starts from the same warm data and backbone caches and times only
its runs. One machine's load drifts over minutes, so the four sweeps (two
worker modes, two W&B modes) run in rounds, each round in the reverse order of
the one before, and the table gives medians and ranges over the rounds.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml
from bench_report import Row

SECTION = "demo sweep"
REPOSITORY = Path(__file__).resolve().parent.parent
DEMO_SWEEP = REPOSITORY / "sweeps" / "demo.yaml"
# --quick: two runs (ssl and scratch) of the smallest model, a few updates each.
QUICK_PARAMETERS = {
    "image_size": {"value": 8},
    "width": {"value": 4},
    "budget": {"value": "matched"},
    "max_updates": {"value": 20},
    "pretext_epochs": {"value": 1},
    "label_fraction": {"values": [0.2]},
    "fold": {"values": [0]},
}
MODES = {"isolated": ["--isolate"], "persistent": []}
WANDB_MODES = ("offline", "disabled")
RATIO_TARGET = 0.6


def sweep_file(work_dir: Path, quick: bool) -> Path:
    """The demo sweep YAML, or its --quick reduction."""
    if not quick:
        return DEMO_SWEEP
    config = yaml.safe_load(DEMO_SWEEP.read_text())
    config["parameters"].update(QUICK_PARAMETERS)
    config["name"] = "demo-quick"
    path = work_dir / "demo-quick.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def sslexp(arguments: list[str], work_dir: Path, timeout_s: float) -> float:
    """Run ``python -m sslexp ARGUMENTS`` in ``work_dir``; its wall time in seconds."""
    environment = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "WANDB_SILENT": "true",
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")])
        ),
    }
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "sslexp", *arguments],
        cwd=work_dir,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"sslexp {' '.join(arguments)} failed (exit {completed.returncode}):"
            f"\n{completed.stderr[-3000:]}"
        )
    return time.perf_counter() - started


def test_accuracies(sweep_dir: Path) -> dict[str, float]:
    """Run name -> test accuracy, from each run's record."""
    ledger = json.loads((sweep_dir / "ledger.json").read_text())
    accuracies = {}
    for entry in ledger["runs"].values():
        record = json.loads((sweep_dir / entry["run_dir"] / "results.json").read_text())
        accuracies[entry["name"]] = record["test"]["accuracy"]
    return accuracies


def median_cell(values: list[float], unit: str = " s", digits: int = 0) -> str:
    """The median, and the range when there is more than one value."""
    median = f"{statistics.median(values):.{digits}f}{unit}"
    if len(values) == 1:
        return median
    return f"{median} (range {min(values):.{digits}f}-{max(values):.{digits}f}, n={len(values)})"


def measure_rounds(
    sweep: Path, work_dir: Path, rounds: int, workers: int, timeout_s: float
) -> tuple[dict, dict]:
    """Wall seconds and test accuracies of every (worker mode, W&B mode), round by round,
    each round in the reverse order of the one before."""
    variants = [(mode, wandb_mode) for wandb_mode in WANDB_MODES for mode in MODES]
    walls = {variant: [] for variant in variants}
    accuracies = {variant: [] for variant in variants}
    for round_index in range(rounds):
        for mode, wandb_mode in variants if round_index % 2 == 0 else variants[::-1]:
            print(
                f"[bench] demo sweep round {round_index + 1}/{rounds}: {mode}, W&B {wandb_mode}",
                flush=True,
            )
            sweep_dir = work_dir / f"sweep-{mode}-{wandb_mode}-{round_index}"
            walls[(mode, wandb_mode)].append(
                sslexp(
                    [
                        "sweep",
                        "local",
                        str(sweep),
                        f"--dir={sweep_dir}",
                        f"--workers={workers}",
                        f"--wandb-mode={wandb_mode}",
                        *MODES[mode],
                    ],
                    work_dir,
                    timeout_s,
                )
            )
            accuracies[(mode, wandb_mode)].append(test_accuracies(sweep_dir))
    return walls, accuracies


def sweep_rows(
    work_dir: Path, quick: bool, rounds: int = 3, workers: int = 2, timeout_s: float = 3600
) -> tuple[list[Row], dict, str]:
    work_dir.mkdir(parents=True, exist_ok=True)
    sweep = sweep_file(work_dir, quick)
    pretrain_s = sslexp(
        ["sweep", "pretrain", str(sweep), "--wandb-mode=disabled"], work_dir, timeout_s
    )
    walls, accuracies = measure_rounds(sweep, work_dir, rounds, workers, timeout_s)
    every_accuracy = [one for found in accuracies.values() for one in found]
    same = all(one == every_accuracy[0] for one in every_accuracy)
    runs = len(every_accuracy[0])
    rows, raw = (
        [],
        {"walls": {f"{m}/{w}": v for (m, w), v in walls.items()}, "identical": same, "ratios": {}},
    )
    for wandb_mode in WANDB_MODES:
        isolated, persistent = walls[("isolated", wandb_mode)], walls[("persistent", wandb_mode)]
        ratios = [p / i for p, i in zip(persistent, isolated)]  # within a round
        ratio = statistics.median(ratios)
        raw["ratios"][wandb_mode] = ratios
        rows += [
            Row(
                SECTION,
                f"W&B {wandb_mode}: {runs} runs, one process per run (--isolate)",
                median_cell(isolated),
                note=f"{statistics.median(isolated) / runs:.1f} s a run",
            ),
            Row(
                SECTION,
                f"W&B {wandb_mode}: {runs} runs, long-lived workers (default)",
                median_cell(persistent),
                note=f"{statistics.median(persistent) / runs:.1f} s a run",
            ),
            Row(
                SECTION,
                f"W&B {wandb_mode}: long-lived / one process per run",
                median_cell(ratios, unit="x", digits=2),
                f"<= {RATIO_TARGET}x, " + ("met" if ratio <= RATIO_TARGET else "missed"),
                note="ratio within each round, median over rounds",
            ),
        ]
    offline = walls[("persistent", "offline")]
    disabled = walls[("persistent", "disabled")]
    rows.append(
        Row(
            SECTION,
            "long-lived workers: W&B offline / disabled",
            median_cell([o / d for o, d in zip(offline, disabled)], unit="x", digits=2),
            note="test accuracies "
            + ("identical in every sweep" if same else "DIFFER between sweeps"),
        )
    )
    described = (
        f"demo sweep: {sweep.name} ({runs} runs), {workers} workers, W&B offline and "
        f"disabled, long-lived and --isolate: {rounds} rounds of the four sweeps, each "
        f"round in the reverse order of the one before; its backbone pretrained first "
        f"({pretrain_s:.0f} s), data and backbone caches warm for every sweep"
    )
    return rows, raw, described
