"""Per-run overhead inside a sweep, and peak memory of the training commands.

With ``--isolate`` every sweep run is a fresh ``python -m sslexp train``
process, so whatever happens before its first training step (interpreter,
TensorFlow import, data loading, model building, tracing) is paid once per
run; a long-lived worker pays the imports once and reuses the compiled steps of
a model it already trained (``SSLEXP_KEEP_COMPILED_MODELS``). The runs here are
real ``sslexp`` command lines with the demo sweep's settings, started as
subprocesses through ``startup_probe.py``, which notes when training starts.
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

SECTION_STARTUP = "start-up per run"
SECTION_MEMORY = "peak memory"
REPOSITORY = Path(__file__).resolve().parent.parent
PROBE = Path(__file__).resolve().parent / "startup_probe.py"
DEMO_SWEEP = REPOSITORY / "sweeps" / "demo.yaml"

# Used when sweeps/demo.yaml is missing or unreadable.
DEMO_FALLBACK = {
    "dataset": "digits",
    "image_size": 16,
    "depth": 8,
    "width": 8,
    "preprocessing": "scale",
    "label_fraction": 0.05,
    "method": "ssl",
    "fold": 0,
    "folds": 5,
    "seed": 0,
    "batch_size": 32,
    "lr": 0.003,
    "budget": "converged",
    "max_updates": 500,
    "patience": 150,
    "finetune": "full",
    "pretrained": "auto",
    "pretext_epochs": 15,
    "pretext_rotations": "all",
    "pretext_unlabeled_fraction": 1.0,
    "pretext_batch_size": 64,
    "pretext_lr": 0.003,
}
# Pretext epochs change how long `sslexp pretrain` runs, not what a downstream run
# costs once its backbone is cached: the bench pretrains for this many.
BENCH_PRETEXT_EPOCHS = 2
# Runs timed only up to their first step need no more than one update.
START_UP_ONLY = {"budget": "matched", "max_updates": 1}
# Smallest settings that still run every step, for --quick.
QUICK_OVERRIDES = {"image_size": 8, "width": 4, "pretext_epochs": 1, **START_UP_ONLY}


def demo_settings(path: Path = DEMO_SWEEP) -> tuple[dict, str]:
    """The demo sweep's first grid point (first of each ``values``) and where it came from."""
    try:
        import yaml

        parameters = yaml.safe_load(path.read_text())["parameters"]
        settings = {}
        for name, spec in parameters.items():
            if "value" in spec:
                settings[name] = spec["value"]
            elif spec.get("values"):
                settings[name] = spec["values"][0]
        return settings, str(path.relative_to(REPOSITORY))
    except (OSError, KeyError, TypeError, AttributeError, ValueError):
        return dict(DEMO_FALLBACK), "built-in demo settings (sweeps/demo.yaml not readable)"


def as_options(settings: dict) -> list[str]:
    """``--name=value`` options, the way ``wandb agent`` passes a sweep's parameters."""
    return [f"--{name}={value}" for name, value in settings.items()]


@dataclasses.dataclass(frozen=True)
class RunPlaces:
    """Where one bench's runs keep data, backbones and outputs (a temporary directory)."""

    root: Path

    @property
    def data_cache(self) -> Path:
        return self.root / "data-cache"

    @property
    def backbones(self) -> Path:
        return self.root / "backbones"

    def output(self, name: str) -> Path:
        return self.root / "runs" / name


def train_command(settings: dict, method: str, places: RunPlaces, name: str) -> list[str]:
    return [
        "train",
        *as_options({**settings, "method": method}),
        f"--cache-dir={places.data_cache}",
        f"--backbone-cache={places.backbones}",
        f"--output-dir={places.output(name)}",
        "--wandb-mode=disabled",
    ]


def pretrain_command(settings: dict, places: RunPlaces) -> list[str]:
    from sslexp.config import pretrain_options

    return [
        "pretrain",
        *as_options(pretrain_options(settings)),
        f"--cache-dir={places.data_cache}",
        f"--backbone-cache={places.backbones}",
        "--wandb-mode=disabled",
    ]


@dataclasses.dataclass
class ProbeResult:
    """Marks of one probe process (seconds since launch) and its wall time."""

    runs: list[dict]
    imports_done: float
    interpreter_ready: float
    peak_rss_mib: float
    wall_s: float


@dataclasses.dataclass(frozen=True)
class RunTiming:
    """One command line inside a probe process.

    The first command line of a process is timed from the launch, so it pays
    for the interpreter and the imports; later ones from their own start.
    """

    probe: ProbeResult
    index: int

    @property
    def marks(self) -> dict:
        return self.probe.runs[self.index]

    @property
    def began(self) -> float:
        return 0.0 if self.index == 0 else self.marks["run_begin"]

    @property
    def fresh_process(self) -> bool:
        return self.index == 0

    def start_up(self) -> float:
        """Seconds to the first ``on_train_batch_begin``."""
        return self.marks["first_step_begin"] - self.began

    def wall(self) -> float:
        """Seconds to the end of the command (interpreter shutdown left out)."""
        return self.marks["run_end"] - self.began

    def fixed_cost(self) -> float:
        """Start-up, the first step (tracing) and what follows training (test, save, figures)."""
        marks = self.marks
        return (marks["first_step_end"] - self.began) + (marks["run_end"] - marks["fit_end"])

    def breakdown(self) -> str:
        """Where the time before and after training goes, phase by phase."""
        marks, probe = self.marks, self.probe
        phases = []
        if self.fresh_process:
            phases += [
                ("interpreter", probe.interpreter_ready),
                ("TensorFlow+Keras import", probe.imports_done - probe.interpreter_ready),
                ("CLI to data load", marks["data_load_begin"] - probe.imports_done),
            ]
        else:
            phases += [("CLI to data load", marks["data_load_begin"] - self.began)]
        phases += [
            ("data load", marks["data_load_end"] - marks["data_load_begin"]),
            ("split, backbone, model, fit setup", marks["fit_called"] - marks["data_load_end"]),
            ("fit to first step", marks["first_step_begin"] - marks["fit_called"]),
            ("first step incl. tracing", marks["first_step_end"] - marks["first_step_begin"]),
            ("after training: test, save, figures", marks["run_end"] - marks["fit_end"]),
        ]
        return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in phases)


def run_probe(
    command_lines: list[list[str]], marks_path: Path, timeout_s: float, keep_compiled: bool = False
) -> ProbeResult:
    """Start a fresh interpreter that runs the command lines one after another
    (``keep_compiled``: reusing compiled models between them, as a sweep worker does)."""
    arguments = [sys.executable, str(PROBE), str(marks_path)]
    for line in command_lines:
        arguments += ["--", *line]
    environment = {
        **os.environ,
        "WANDB_MODE": "disabled",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")])
        ),
    }
    if keep_compiled:
        environment["SSLEXP_KEEP_COMPILED_MODELS"] = "2"
    launched = time.time()
    environment["SSLEXP_BENCH_LAUNCHED_AT"] = repr(launched)
    completed = subprocess.run(
        arguments,
        env=environment,
        cwd=marks_path.parent,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    wall = time.time() - launched
    if completed.returncode != 0:
        commands = "; ".join(" ".join(line) for line in command_lines)
        raise RuntimeError(
            f"sslexp failed (exit {completed.returncode}) running {commands}:\n"
            f"{completed.stderr[-3000:]}"
        )
    record = json.loads(marks_path.read_text())
    return ProbeResult(
        runs=record["runs"],
        imports_done=record["imports_done"],
        interpreter_ready=record["interpreter_ready"],
        peak_rss_mib=record["peak_rss_mib"],
        wall_s=wall,
    )


def seconds_cell(values: list[float]) -> str:
    if not values:
        return "not measured"
    if len(values) == 1:
        return f"{values[0]:.1f} s"
    return (
        f"{statistics.median(values):.1f} s "
        f"(range {min(values):.1f}-{max(values):.1f}, n={len(values)})"
    )


def describe_settings(settings: dict) -> str:
    keys = (
        "dataset",
        "image_size",
        "depth",
        "width",
        "method",
        "label_fraction",
        "budget",
        "max_updates",
        "patience",
        "pretext_epochs",
    )
    return ", ".join(f"{key} {settings[key]}" for key in keys if key in settings)


@dataclasses.dataclass
class Measured:
    """The runs the start-up rows are made of."""

    cold: RunTiming  # scratch, empty data cache, fresh process
    pretrain: RunTiming
    warm_ssl: list[RunTiming]  # cached data and backbone
    warm_scratch: list[RunTiming]
    reused: RunTiming  # a warm ssl run after another one in the same process
    demo: RunTiming  # a whole demo run (warm, ssl), for its wall time
    worker: RunTiming  # a whole demo run after another in a worker that keeps compiled models


def start_up_only(settings: dict) -> dict:
    """The same run cut to a single update."""
    return {**settings, **START_UP_ONLY}


def measure_separately(
    settings: dict, places: RunPlaces, marks, timeout_s: float, repeats: int = 1
) -> Measured:
    """Each run in its own process, as a sweep starts them; warm runs interleaved."""

    def probe(*lines, keep_compiled=False):
        return run_probe(list(lines), next(marks), timeout_s, keep_compiled)

    short = start_up_only(settings)
    cold = probe(train_command(short, "scratch", places, "cold-scratch"))
    pretrain = probe(pretrain_command(settings, places))
    reused = probe(
        train_command(short, "ssl", places, "reused-a"),
        train_command(short, "ssl", places, "reused-b"),
    )
    warm_ssl, warm_scratch = [RunTiming(reused, 0)], []
    for repeat in range(repeats):
        warm_ssl.append(
            RunTiming(probe(train_command(short, "ssl", places, f"warm-ssl-{repeat}")), 0)
        )
        warm_scratch.append(
            RunTiming(probe(train_command(short, "scratch", places, f"warm-scratch-{repeat}")), 0)
        )
    demo = RunTiming(probe(train_command(settings, "ssl", places, "demo")), 0)
    worker = probe(
        train_command(settings, "scratch", places, "worker-a"),
        train_command(settings, "ssl", places, "worker-b"),
        keep_compiled=True,
    )
    return Measured(
        cold=RunTiming(cold, 0),
        pretrain=RunTiming(pretrain, 0),
        warm_ssl=[*warm_ssl, demo],
        warm_scratch=warm_scratch,
        reused=RunTiming(reused, 1),
        demo=demo,
        worker=RunTiming(worker, 1),
    )


def measure_in_one_process(settings: dict, places: RunPlaces, marks, timeout_s: float) -> Measured:
    """--quick: every command line in one process, as a worker runs them; only the cold run
    starts fresh."""
    probe = run_probe(
        [
            train_command(settings, "scratch", places, "cold-scratch"),
            pretrain_command(settings, places),
            train_command(settings, "ssl", places, "warm-ssl"),
            train_command(settings, "ssl", places, "reused"),
        ],
        next(marks),
        timeout_s,
        keep_compiled=True,
    )
    warm = RunTiming(probe, 2)
    return Measured(
        cold=RunTiming(probe, 0),
        pretrain=RunTiming(probe, 1),
        warm_ssl=[warm],
        warm_scratch=[],
        reused=RunTiming(probe, 3),
        demo=warm,
        worker=RunTiming(probe, 3),
    )


def memory_note(timing: RunTiming) -> str:
    if len(timing.probe.runs) > 1:
        return f"process that ran {len(timing.probe.runs)} command lines"
    return f"process wall time {timing.probe.wall_s:.1f} s"


def check_backbone_was_found(measured: Measured) -> None:
    for timing in measured.warm_ssl + [measured.reused, measured.worker]:
        if timing.marks.get("fit_calls", 0) != 1:
            raise RuntimeError(
                "a warm ssl run pretrained again: it did not find the backbone "
                "`sslexp pretrain` wrote, so their settings no longer match"
            )


def startup_table(measured: Measured, quick: bool) -> list[Row]:
    demo, reused, cold, worker = measured.demo, measured.reused, measured.cold, measured.worker
    how = " (--quick: inside one process)" if quick else ""
    share = demo.start_up() / demo.wall()
    worker_share = worker.start_up() / worker.wall()
    fresh_ssl = [timing for timing in measured.warm_ssl if timing.fresh_process]
    return [
        Row(
            SECTION_STARTUP,
            "cold run (empty data cache), scratch: launch to first step",
            seconds_cell([cold.start_up()]),
            note=cold.breakdown(),
        ),
        Row(
            SECTION_STARTUP,
            "warm run, ssl (cached data and backbone): launch to first step",
            seconds_cell([t.start_up() for t in fresh_ssl])
            if fresh_ssl
            else seconds_cell([demo.start_up()]) + how,
            note=demo.breakdown(),
        ),
        Row(
            SECTION_STARTUP,
            "warm run, scratch: launch to first step",
            seconds_cell([t.start_up() for t in measured.warm_scratch]),
        ),
        Row(
            SECTION_STARTUP,
            "next run in the same process: its start to first step",
            seconds_cell([reused.start_up()]),
            note="what a worker that keeps TensorFlow loaded between runs would pay; "
            + reused.breakdown(),
        ),
        Row(
            SECTION_STARTUP,
            "demo run wall time (warm, ssl): launch to end of run",
            seconds_cell([demo.wall()]) + how,
        ),
        Row(
            SECTION_STARTUP,
            "warm start-up share of a demo run, one process per run",
            f"{share:.0%}" + how,
            note=f"with the first step (tracing) and what follows training: "
            f"{demo.fixed_cost() / demo.wall():.0%}"
            + (
                ""
                if quick
                else f"; a next run in the same process saves "
                f"{demo.start_up() - reused.start_up():.1f} s of start-up"
            ),
        ),
        Row(
            SECTION_STARTUP,
            "demo run in a long-lived worker (its second run): start to first step",
            seconds_cell([worker.start_up()]),
            note="compiled steps reused; " + worker.breakdown(),
        ),
        Row(
            SECTION_STARTUP,
            "demo run in a long-lived worker: start to end",
            seconds_cell([worker.wall()]),
        ),
        Row(
            SECTION_STARTUP,
            "warm start-up share of a demo run, long-lived worker",
            f"{worker_share:.0%}",
            "< 10%, " + ("met" if worker_share < 0.10 else "missed"),
            note=f"with the first step and what follows training: "
            f"{worker.fixed_cost() / worker.wall():.0%}",
        ),
        Row(
            SECTION_MEMORY,
            "sslexp pretrain (demo pretext settings)",
            f"{measured.pretrain.probe.peak_rss_mib:,.0f} MiB max RSS",
            note=memory_note(measured.pretrain),
        ),
        Row(
            SECTION_MEMORY,
            "sslexp train (demo settings, ssl, warm)",
            f"{demo.probe.peak_rss_mib:,.0f} MiB max RSS",
            note=memory_note(demo),
        ),
        Row(
            SECTION_MEMORY,
            "sslexp train (cold, scratch)",
            f"{cold.probe.peak_rss_mib:,.0f} MiB max RSS",
            note="decodes the data set into the cache; " + memory_note(cold),
        ),
    ]


def startup_rows(
    work_dir: Path, quick: bool, timeout_s: float = 600
) -> tuple[list[Row], dict, str]:
    """Cold and warm start-up, a reused process, a demo run's share, and peak memory."""
    settings, origin = demo_settings()
    demo_pretext_epochs = settings.get("pretext_epochs")
    settings["pretext_epochs"] = BENCH_PRETEXT_EPOCHS
    if quick:
        settings.update(QUICK_OVERRIDES)
    work_dir.mkdir(parents=True, exist_ok=True)
    places = RunPlaces(work_dir)
    marks = iter(work_dir / f"marks-{index}.json" for index in range(100))
    measure = measure_in_one_process if quick else measure_separately
    measured = measure(settings, places, marks, timeout_s)
    check_backbone_was_found(measured)
    raw = {
        "cold": measured.cold.start_up(),
        "warm_ssl": [t.start_up() for t in measured.warm_ssl],
        "warm_scratch": [t.start_up() for t in measured.warm_scratch],
        "reused": measured.reused.start_up(),
        "share": measured.demo.start_up() / measured.demo.wall(),
        "worker_share": measured.worker.start_up() / measured.worker.wall(),
        "pretrain_rss_mib": measured.pretrain.probe.peak_rss_mib,
        "train_rss_mib": measured.demo.probe.peak_rss_mib,
    }
    described = (
        f"start-up and memory: {describe_settings(settings)} (from {origin}; pretext "
        f"epochs {settings['pretext_epochs']} instead of {demo_pretext_epochs}: they "
        "only change how long pretraining takes); runs timed only to their first step "
        "use " + ", ".join(f"{k} {v}" for k, v in START_UP_ONLY.items())
    )
    if quick:
        described += "; --quick runs every command line in one process"
    return startup_table(measured, quick), raw, described
