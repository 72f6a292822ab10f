"""Pretext throughput on a GPU: precision, XLA and batch size, against the card's
measured matrix-product ceiling.

Runs only where TensorFlow sees a GPU (``--gpu-section force`` runs it on the
CPU with tiny sizes, to check the code). Mixed precision is a global Keras
policy, so each model is built under its policy and the policy is restored.
"""

from __future__ import annotations

import dataclasses
import statistics

import numpy as np

from bench_flops import flops_cell, matmul_tflops, training_flops_per_sample
from bench_report import Row, gpu_names
from bench_throughput import (ThroughputSettings, Variant, build_pretext_model, load_images,
                              paired_ratio, rotate_with_numpy, time_interleaved)

SECTION = "GPU"


@dataclasses.dataclass(frozen=True)
class GpuSettings:
    images: ThroughputSettings  # data set, size, depth, width, image count, rounds
    batch_sizes: tuple[int, ...]  # source images per batch (x4 samples)
    matmul_size: int


def build_with_policy(policy: str, jit_compile: bool, shape, settings: ThroughputSettings):
    import keras

    previous = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy(policy)
    try:
        return build_pretext_model(shape, settings.depth, settings.width, settings.seed,
                                   jit_compile=jit_compile)
    finally:
        keras.mixed_precision.set_global_policy(previous)


def variant_name(policy: str, jit_compile: bool, batch_samples: int) -> str:
    return f"{policy}, XLA {'on' if jit_compile else 'off'}, batch {batch_samples}"


def gpu_variants(settings: GpuSettings, images: np.ndarray) -> list[Variant]:
    """sslexp's pipeline under each precision, XLA setting and batch size, plus, per batch
    size, the in-memory ceiling for the configuration Keras picks on a GPU (float32, XLA on)."""
    import tensorflow as tf

    from sslexp.data.pipelines import rotation_dataset

    rotated, labels = rotate_with_numpy(images)
    variants = []
    for batch_size in settings.batch_sizes:
        samples = 4 * batch_size
        dataset = rotation_dataset(images, batch_size, "all", shuffle=True, seed=0)
        for policy in ("float32", "mixed_float16"):
            for jit_compile in (False, True):
                model = build_with_policy(policy, jit_compile, images.shape[1:], settings.images)
                variants.append(Variant(variant_name(policy, jit_compile, samples), samples, model,
                                        lambda dataset=dataset: {"x": dataset}))
        in_memory = tf.data.Dataset.from_tensor_slices((rotated, labels)).batch(samples).cache()
        model = build_with_policy("float32", True, images.shape[1:], settings.images)
        variants.append(Variant(variant_name("float32", True, samples) + ", in-memory ceiling",
                                samples, model, lambda in_memory=in_memory: {"x": in_memory}))
    return variants


def pipeline_overhead_rows(variants: list[Variant]) -> list[Row]:
    """sslexp against the in-memory ceiling, same configuration, per batch size."""
    by_name = {variant.name: variant for variant in variants}
    rows = []
    for ceiling in (v for v in variants if v.name.endswith("in-memory ceiling")):
        sslexp = by_name[ceiling.name.removesuffix(", in-memory ceiling")]
        median, low, high = paired_ratio(sslexp, ceiling)
        rows.append(Row(SECTION, f"sslexp / ceiling, {sslexp.name}",
                        f"{median:.2f}x (rounds {low:.2f}-{high:.2f})", ">= 0.95x, "
                        + ("met" if median >= 0.95 else "missed")))
    return rows


def gpu_rows(settings: GpuSettings, force: bool) -> tuple[list[Row], dict]:
    import tensorflow as tf

    if not force and not tf.config.list_physical_devices("GPU"):
        return [Row(SECTION, "float32 vs mixed precision, XLA, batch size, matmul ceiling",
                    "skipped: no GPU")], {}
    ceilings = {dtype: matmul_tflops(dtype, settings.matmul_size)
                for dtype in ("float32", "float16")}
    images = load_images(settings.images)
    variants = gpu_variants(settings, images)
    time_interleaved(variants, 4 * len(images), settings.images.rounds)
    flops = training_flops_per_sample(variants[0].model)
    device = ", ".join(gpu_names()) or "forced onto the CPU"
    tf32 = "on" if tf.config.experimental.tensor_float_32_execution_enabled() else "off"
    rows = [Row(SECTION, f"matmul ceiling {dtype} ({settings.matmul_size}x{settings.matmul_size})",
                flops_cell(tflops * 1e12),
                note=device + (f"; TensorFloat-32 {tf32}" if dtype == "float32" else ""))
            for dtype, tflops in ceilings.items()]
    for variant in variants:
        rate = statistics.median(variant.rates)
        achieved = flops * rate / 1e12
        ceiling = ceilings["float16" if "mixed" in variant.name else "float32"]
        rows.append(Row(SECTION, f"pretext: {variant.name}",
                        f"{rate:,.0f} samples/s, {flops_cell(achieved * 1e12)}",
                        note=f"{achieved / ceiling:.1%} of the matmul ceiling"))
    rows += pipeline_overhead_rows(variants)
    raw = {"ceilings_tflops": ceilings, **{v.name: v.rates for v in variants}}
    return rows, raw
