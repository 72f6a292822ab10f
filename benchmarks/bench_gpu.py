"""Pretext throughput on a GPU, under every installed Keras backend: float32 against
mixed precision (``--precision mixed``: bfloat16 on recent GPUs) and two batch sizes,
against the chip's measured matrix-product rate.

Runs only where a GPU is present (``--gpu-section force`` runs it on the CPU with
tiny sizes, to check the code). Each backend runs in its own process; inside it
the variants are timed interleaved.
"""

from __future__ import annotations

import dataclasses
import statistics
from pathlib import Path

from bench_report import Row, gpu_names
from bench_throughput import ThroughputSettings, load_images, time_interleaved

SECTION = "GPU"


@dataclasses.dataclass(frozen=True)
class GpuSettings:
    images: ThroughputSettings  # data set, size, depth, width, image count, rounds
    batch_sizes: tuple[int, ...]  # source images per batch (x4 samples)
    matmul_size: int

    def as_json(self) -> dict:
        return {
            "images": self.images.as_json(),
            "batch_sizes": list(self.batch_sizes),
            "matmul_size": self.matmul_size,
        }


def build_with_policy(policy: str, shape, settings: ThroughputSettings):
    """sslexp's pretext model (rotation layers included) built and compiled under ``policy``."""
    import keras
    from bench_throughput import build_pretext_model

    keras.config.set_dtype_policy(policy)
    try:
        return build_pretext_model(
            shape, settings.depth, settings.width, settings.seed, rotating=True
        )
    finally:
        keras.config.set_dtype_policy("float32")


def measure_in_this_backend(settings_json: dict) -> dict:
    """Runs in a child process under one backend: precision x batch size, interleaved."""
    import keras
    from bench_flops import matmul_tflops, training_flops_per_sample

    from sslexp.data.pipelines import RotationBatches
    from sslexp.training.runtime import accelerator, dtype_policy

    images_json = settings_json["images"]
    images_settings = ThroughputSettings(
        **{**images_json, "cache_dir": Path(images_json["cache_dir"])}
    )
    device = accelerator()
    mixed = dtype_policy("mixed", device) if device != "cpu" else "mixed_bfloat16"
    images = load_images(images_settings)
    variants = {}
    for batch_size in settings_json["batch_sizes"]:
        batches = RotationBatches(images, batch_size, "all", shuffle=True, seed=0, endless=True)
        for policy in ("float32", mixed):
            model = build_with_policy(policy, images.shape[1:], images_settings)
            variants[f"{policy}, batch {4 * batch_size}"] = (
                model,
                {"x": batches, "steps_per_epoch": batches.steps_per_pass(), "shuffle": False},
            )
    rates = time_interleaved(variants, 4 * len(images), images_settings.rounds)
    reduced = "float16" if mixed == "mixed_float16" else "bfloat16"
    return {
        "backend": keras.backend.backend(),
        "device": device,
        "rates": rates,
        "mixed_policy": mixed,
        "flops": training_flops_per_sample(next(iter(variants.values()))[0]),
        "matmul_tflops": {
            "float32": matmul_tflops("float32", settings_json["matmul_size"]),
            reduced: matmul_tflops(reduced, settings_json["matmul_size"]),
        },
    }


def gpu_rows(
    settings: GpuSettings, force: bool, backends: list[str] | None = None
) -> tuple[list[Row], dict]:
    from bench_backends import available_backends, run_in_backend
    from bench_flops import flops_cell

    device = ", ".join(gpu_names())
    if not force and not device:
        return [
            Row(
                SECTION,
                "precision x batch size x backend, against the matmul rate",
                "skipped: no GPU",
            )
        ], {}
    rows, raw = [], {}
    for backend in available_backends(backends):
        result = run_in_backend(backend, "bench_gpu:measure_in_this_backend", settings.as_json())
        raw[backend] = result
        where = device or f"forced onto the {result['device']}"
        for dtype, tflops in result["matmul_tflops"].items():
            rows.append(
                Row(
                    SECTION,
                    f"{backend}: matmul rate {dtype} "
                    f"({settings.matmul_size}x{settings.matmul_size})",
                    flops_cell(tflops * 1e12),
                    note=where,
                )
            )
        for name, rates in result["rates"].items():
            rate = statistics.median(rates)
            achieved = result["flops"] * rate
            dtype = (
                "float32"
                if name.startswith("float32")
                else next(key for key in result["matmul_tflops"] if key != "float32")
            )
            rows.append(
                Row(
                    SECTION,
                    f"{backend}: pretext {name}",
                    f"{rate:,.0f} samples/s, {flops_cell(achieved)}",
                    note=f"{achieved / (result['matmul_tflops'][dtype] * 1e12):.1%} of "
                    f"the {dtype} matmul rate",
                )
            )
    return rows, raw
