"""sslexp benchmarks: pretext throughput per Keras backend, per-run start-up, where a
demo run's seconds go in a long-lived worker, the demo sweep with long-lived workers
against one process per run, peak memory, GPU settings.

    python benchmarks/bench.py            # the full bench, about 75 minutes on 2 quiet cores
    python benchmarks/bench.py --quick    # a smoke-sized version, to check it runs
    python benchmarks/bench.py --only breakdown,sweep --baseline main

Prints the results table last and writes it, with the machine and the exact
command, to benchmarks/RESULTS.md (or --out). Numbers that compare two ways of
doing the same thing are measured interleaved in this one run: only those
ratios, not absolute rates, carry over to another machine or another hour.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("WANDB_MODE", "disabled")
BENCH_DIR = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH_DIR), str(BENCH_DIR.parent)]

from bench_report import (
    Row,
    carried_over,
    command_line,
    describe_machine,  # noqa: E402
    render_markdown,
    results_table,
)

# Full and --quick sizes; any of them can be set on the command line.
FULL = {
    "dataset": "fashion_mnist",
    "image_size": 28,
    "depth": 8,
    "width": 16,
    "images": 384,
    "batch_size": 64,
    "rounds": 5,
    "gpu_images": 16384,
    "gpu_depth": 20,
    "gpu_batch_sizes": "128,512",
    "matmul_size": 8192,
    "breakdown_rounds": 3,
    "sweep_rounds": 3,
}
QUICK = {
    "dataset": "digits",
    "image_size": 8,
    "depth": 8,
    "width": 4,
    "images": 64,
    "batch_size": 16,
    "rounds": 1,
    "gpu_images": 64,
    "gpu_depth": 8,
    "gpu_batch_sizes": "8,16",
    "matmul_size": 256,
    "breakdown_rounds": 1,
    "sweep_rounds": 1,
}
SECTION_NAMES = ("throughput", "startup", "breakdown", "sweep", "gpu")


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes: checks that every section runs, numbers mean little",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=BENCH_DIR / "RESULTS.md",
        help="where to write the Markdown results (default: %(default)s)",
    )
    parser.add_argument("--dataset", help="pretext throughput data set (full: fashion_mnist)")
    parser.add_argument("--image-size", type=int, help="pixels (full: 28)")
    parser.add_argument("--depth", type=int, help="ResNet depth, 6n+2 (full: 8)")
    parser.add_argument("--width", type=int, help="ResNet width (full: 16)")
    parser.add_argument("--images", type=int, help="source images per epoch (full: 384)")
    parser.add_argument(
        "--batch-size",
        type=int,
        help="source images per sslexp batch, x4 samples (full: 64, as `sslexp pretrain`)",
    )
    parser.add_argument("--rounds", type=int, help="timed epochs per variant (full: 5)")
    parser.add_argument(
        "--gpu-section",
        choices=("auto", "force", "off"),
        default="auto",
        help="auto: only where a GPU is present; force: also on a CPU",
    )
    parser.add_argument("--gpu-images", type=int, help="source images per GPU epoch (full: 8192)")
    parser.add_argument("--gpu-depth", type=int, help="ResNet depth on the GPU (full: 20)")
    parser.add_argument(
        "--gpu-batch-sizes",
        help="source-image batch sizes (full: 128,512, i.e. 512 and 2048 samples)",
    )
    parser.add_argument("--matmul-size", type=int, help="matrix side for the ceiling (full: 8192)")
    parser.add_argument(
        "--skip-startup", action="store_true", help="leave out the start-up and memory subprocesses"
    )
    parser.add_argument(
        "--backends",
        type=lambda text: text.split(","),
        default=None,
        help="comma-separated Keras backends to measure (default: every "
        "installed one of tensorflow, jax, torch)",
    )
    parser.add_argument(
        "--skip-sweep", action="store_true", help="leave out the demo sweep run in both modes"
    )
    parser.add_argument(
        "--skip-breakdown", action="store_true", help="leave out the demo run breakdown"
    )
    parser.add_argument(
        "--sweep-rounds",
        type=int,
        help="rounds of the four demo sweeps (long-lived and --isolate, W&B "
        "offline and disabled), alternating order (full: 3)",
    )
    parser.add_argument(
        "--breakdown-rounds",
        type=int,
        help="rounds of the demo run breakdown, W&B offline and disabled alternating (full: 3)",
    )
    parser.add_argument(
        "--breakdown-runs",
        type=int,
        help="runs of the demo grid each breakdown worker runs (full: 6, one "
        "fold's; fewer to save time)",
    )
    parser.add_argument(
        "--baseline",
        metavar="REVISION",
        help="git revision whose sslexp the breakdown also measures, "
        "alternating with this tree's, to show what a change saved",
    )
    parser.add_argument(
        "--only",
        type=lambda text: text.split(","),
        help=f"comma-separated sections to run, of {', '.join(SECTION_NAMES)}; "
        "the rows of the others are carried over from --out, marked so",
    )
    arguments = parser.parse_args(argv)
    unknown = set(arguments.only or ()) - set(SECTION_NAMES)
    if unknown:
        parser.error(
            f"--only: unknown sections {', '.join(sorted(unknown))}; choose from "
            f"{', '.join(SECTION_NAMES)}"
        )
    for name, value in (QUICK if arguments.quick else FULL).items():
        if getattr(arguments, name) is None:
            setattr(arguments, name, value)
    return arguments


def throughput_settings(arguments, cache_dir: Path):
    from bench_throughput import ThroughputSettings

    return ThroughputSettings(
        dataset=arguments.dataset,
        image_size=arguments.image_size,
        depth=arguments.depth,
        width=arguments.width,
        images=arguments.images,
        batch_size=arguments.batch_size,
        rounds=arguments.rounds,
        cache_dir=cache_dir,
        matmul_size=min(arguments.matmul_size, 1024),
    )


def gpu_settings(arguments, cache_dir: Path):
    import dataclasses

    from bench_gpu import GpuSettings

    images = dataclasses.replace(
        throughput_settings(arguments, cache_dir),
        images=arguments.gpu_images,
        depth=arguments.gpu_depth,
    )
    batch_sizes = tuple(int(size) for size in arguments.gpu_batch_sizes.split(","))
    return GpuSettings(images=images, batch_sizes=batch_sizes, matmul_size=arguments.matmul_size)


def throughput_section(arguments, work_dir: Path) -> tuple[list[Row], list[str]]:
    from bench_throughput import throughput_rows

    settings = throughput_settings(arguments, work_dir / "data-cache")
    return throughput_rows(settings, arguments.backends)[0], [settings.describe()]


def startup_section(arguments, work_dir: Path) -> tuple[list[Row], list[str]]:
    from bench_startup import SECTION_STARTUP, startup_rows

    if arguments.skip_startup:
        return [Row(SECTION_STARTUP, "all", "skipped: --skip-startup")], []
    rows, _, described = startup_rows(work_dir / "startup", arguments.quick)
    return rows, [described]


def sweep_section(arguments, work_dir: Path) -> tuple[list[Row], list[str]]:
    from bench_sweep import SECTION, sweep_rows

    if arguments.skip_sweep:
        return [Row(SECTION, "all", "skipped: --skip-sweep")], []
    rows, _, described = sweep_rows(
        work_dir / "sweep", arguments.quick, rounds=arguments.sweep_rounds
    )
    return rows, [described]


def breakdown_section(arguments, work_dir: Path) -> tuple[list[Row], list[str]]:
    from bench_breakdown import SECTION, breakdown_rows

    if arguments.skip_breakdown:
        return [Row(SECTION, "all", "skipped: --skip-breakdown")], []
    rows, _, described = breakdown_rows(
        work_dir / "breakdown",
        arguments.quick,
        rounds=arguments.breakdown_rounds,
        baseline=arguments.baseline,
        runs=arguments.breakdown_runs,
    )
    return rows, [described]


def gpu_section(arguments, work_dir: Path) -> tuple[list[Row], list[str]]:
    from bench_gpu import SECTION, gpu_rows

    if arguments.gpu_section == "off":
        return [Row(SECTION, "all", "skipped: --gpu-section off")], []
    settings = gpu_settings(arguments, work_dir / "data-cache")
    rows, measured = gpu_rows(
        settings, force=arguments.gpu_section == "force", backends=arguments.backends
    )
    if not measured:
        return rows, []
    return rows, [
        f"GPU: ResNet-{settings.images.depth} width {settings.images.width}, "
        f"{settings.images.images} images, batches of {settings.batch_sizes} source "
        f"images, float32 and mixed precision, matmul {settings.matmul_size}, every "
        "installed backend"
    ]


SECTIONS = (
    ("throughput", "pretext throughput per backend", throughput_section),
    ("startup", "start-up and memory (sslexp subprocesses)", startup_section),
    ("breakdown", "demo run breakdown in a long-lived worker", breakdown_section),
    ("sweep", "demo sweep, long-lived workers and one process per run", sweep_section),
    ("gpu", "GPU", gpu_section),
)


def run_sections(arguments, work_dir: Path) -> tuple[list[Row], list[str]]:
    """Every section in turn (or those --only names); each adds its rows and lines
    describing its settings."""
    rows, settings = [], []
    for key, name, section in SECTIONS:
        if arguments.only and key not in arguments.only:
            continue
        print(f"[bench] {name}", flush=True)
        started = time.perf_counter()
        section_rows, section_settings = section(arguments, work_dir)
        rows += section_rows
        settings += section_settings
        print(f"[bench] {name} took {time.perf_counter() - started:.0f} s", flush=True)
    return rows, settings


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    started = time.perf_counter()
    machine = describe_machine()
    command = command_line()
    with tempfile.TemporaryDirectory(prefix="sslexp-bench-") as work_dir:
        rows, settings = run_sections(arguments, Path(work_dir))
    elapsed = time.perf_counter() - started
    kept_settings = []
    if arguments.only and arguments.out.exists():
        kept_rows, kept_settings = carried_over(
            arguments.out.read_text(), {row.section for row in rows}, settings
        )
        rows = kept_rows + rows
    settings.append(
        "load average at the end (1, 5, 15 min): "
        + ", ".join(f"{value:.1f}" for value in os.getloadavg())
    )
    settings += kept_settings
    if arguments.quick:
        settings.append("--quick: smoke-sized; the numbers only show that every section runs")
    markdown = render_markdown(machine, command, settings, rows, elapsed)
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    arguments.out.write_text(markdown)
    print(f"\n[bench] wrote {arguments.out} ({elapsed / 60:.1f} min)\n")
    print(results_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
