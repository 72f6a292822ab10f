"""The demo sweep end to end, with long-lived workers (the default) against one
process per run (``--isolate``), as ``make demo`` runs it: two workers, W&B offline.

The backbone the ssl runs use is pretrained first (``sslexp sweep pretrain``), so
both sweeps start from the same warm data and backbone caches and time only
their runs. The two sweeps run one after the other in the same directory.
"""

from __future__ import annotations

import json
import os
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
        "WANDB_MODE": "offline",
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


def sweep_rows(
    work_dir: Path, quick: bool, workers: int = 2, timeout_s: float = 3600
) -> tuple[list[Row], dict, str]:
    work_dir.mkdir(parents=True, exist_ok=True)
    sweep = sweep_file(work_dir, quick)
    pretrain_s = sslexp(
        ["sweep", "pretrain", str(sweep), "--wandb-mode=disabled"], work_dir, timeout_s
    )
    walls, accuracies = {}, {}
    for mode, flags in MODES.items():
        sweep_dir = work_dir / f"sweep-{mode}"
        walls[mode] = sslexp(
            ["sweep", "local", str(sweep), f"--dir={sweep_dir}", f"--workers={workers}", *flags],
            work_dir,
            timeout_s,
        )
        accuracies[mode] = test_accuracies(sweep_dir)
    ratio = walls["persistent"] / walls["isolated"]
    runs = len(accuracies["isolated"])
    same = accuracies["persistent"] == accuracies["isolated"]
    rows = [
        Row(
            SECTION,
            f"{runs} runs, one process per run (--isolate)",
            f"{walls['isolated']:.0f} s",
            note=f"{walls['isolated'] / runs:.1f} s a run",
        ),
        Row(
            SECTION,
            f"{runs} runs, long-lived workers (default)",
            f"{walls['persistent']:.0f} s",
            note=f"{walls['persistent'] / runs:.1f} s a run",
        ),
        Row(
            SECTION,
            "long-lived / one process per run",
            f"{ratio:.2f}x",
            "<= 0.6x, " + ("met" if ratio <= 0.6 else "missed"),
            note="test accuracies "
            + ("identical in both modes" if same else "DIFFER between the modes"),
        ),
    ]
    described = (
        f"demo sweep: {sweep.name} ({runs} runs), {workers} workers, W&B offline, "
        f"its backbone pretrained first ({pretrain_s:.0f} s), data and backbone "
        "caches warm for both modes"
    )
    return rows, {"walls": walls, "ratio": ratio, "identical": same}, described
