"""Pretext training throughput: sslexp's tf.data rotation pipeline against the
reference's NumPy rotation and against tensors already in memory.

All variants train identically initialised copies of one model on the same
rotated samples (four rotations of every image per epoch) and are timed
interleaved, one epoch each in turn, so that noise from other processes on
the machine hits them alike. Ratios are medians of per-round ratios.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from bench_flops import flops_cell, matmul_tflops, training_flops_per_sample
from bench_report import Row

SECTION = "pretext throughput"


@dataclasses.dataclass(frozen=True)
class ThroughputSettings:
    dataset: str
    image_size: int
    depth: int
    width: int
    images: int
    batch_size: int  # source images per sslexp batch; a batch holds 4x as many samples
    rounds: int
    cache_dir: Path
    reference_batch_size: int = 32  # samples per batch, as the reference experiment used
    matmul_size: int = 1024  # side of the matrices for this device's matmul ceiling
    seed: int = 0

    def describe(self) -> str:
        return (f"pretext throughput: {self.dataset} {self.image_size}x{self.image_size}, "
                f"ResNet-{self.depth} width {self.width}, {self.images} images = "
                f"{4 * self.images} rotated samples an epoch, sslexp batch {self.batch_size} "
                f"images ({4 * self.batch_size} samples), reference batch "
                f"{self.reference_batch_size} samples, 1 warm-up + {self.rounds} timed epochs "
                "per variant")


@dataclasses.dataclass
class Variant:
    """One way of feeding the same model; ``fit_arguments`` is called once per epoch."""

    name: str
    batch_samples: int
    model: object
    fit_arguments: Callable[[], dict]
    rates: list[float] = dataclasses.field(default_factory=list)


def load_images(settings: ThroughputSettings) -> np.ndarray:
    """The first ``images`` pool images (uint8) of the bench data set."""
    from sslexp.data import load_dataset

    pool = load_dataset(settings.dataset, settings.image_size, settings.cache_dir).pool_images
    if len(pool) < settings.images:
        raise ValueError(f"{settings.dataset} has only {len(pool)} pool images; "
                         f"ask for at most that many with --images.")
    return pool[:settings.images]


def rotate_with_numpy(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The reference approach: every rotation of every image built up front in Python."""
    rotated, labels = [], []
    for image in images:
        for k in range(4):
            rotated.append(np.rot90(image, k))
            labels.append(k)
    return np.asarray(rotated, dtype=np.float32), np.asarray(labels, dtype=np.int32)


def build_pretext_model(input_shape, depth: int, width: int, seed: int, jit_compile="auto"):
    """The pretext model compiled as ``sslexp pretrain`` compiles it, with a fixed init."""
    import keras

    from sslexp.config import BackboneConfig
    from sslexp.models import build_backbone
    from sslexp.models import build_pretext_model as add_rotation_head

    keras.utils.set_random_seed(seed)
    model = add_rotation_head(build_backbone(input_shape, BackboneConfig(depth, width)))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], jit_compile=jit_compile)
    return model


def epoch_seconds(model, fit_arguments: dict) -> float:
    """Seconds of one training epoch, from Keras' epoch begin to epoch end."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds = time.perf_counter() - self.started

    timer = EpochTimer()
    with warnings.catch_warnings():
        # fit's default shuffle=True is meaningless for a tf.data input, and Keras says so.
        warnings.filterwarnings("ignore", message=".*shuffle=True.*")
        model.fit(**fit_arguments, epochs=1, verbose=0, callbacks=[timer])
    return timer.seconds


def time_interleaved(variants: list[Variant], samples: int, rounds: int) -> None:
    """One warm-up epoch each (tracing), then rounds of one epoch each, in rotating order."""
    for variant in variants:
        epoch_seconds(variant.model, variant.fit_arguments())
    for round_index in range(rounds):
        shift = round_index % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            variant.rates.append(samples / epoch_seconds(variant.model, variant.fit_arguments()))


def paired_ratio(numerator: Variant, denominator: Variant) -> tuple[float, float, float]:
    """Median, min and max of the per-round ratios (rounds are paired in time)."""
    ratios = [a / b for a, b in zip(numerator.rates, denominator.rates)]
    return statistics.median(ratios), min(ratios), max(ratios)


def pipeline_alone_rate(images: np.ndarray, batch_size: int, repeats: int = 3) -> float:
    """Samples per second sslexp's rotation pipeline delivers with no model attached."""
    from sslexp.data.pipelines import rotation_dataset

    dataset = rotation_dataset(images, batch_size, "all", shuffle=True, seed=0)
    rates = []
    for _ in range(repeats + 1):
        started = time.perf_counter()
        count = sum(int(labels.shape[0]) for _, labels in dataset)
        rates.append(count / (time.perf_counter() - started))
    return statistics.median(rates[1:])


def build_variants(settings: ThroughputSettings, images: np.ndarray,
                   rotated: np.ndarray, labels: np.ndarray) -> list[Variant]:
    import tensorflow as tf

    from sslexp.data.pipelines import rotation_dataset

    shape = images.shape[1:]
    sslexp_batches = rotation_dataset(images, settings.batch_size, "all", shuffle=True,
                                      seed=settings.seed)
    batch_samples = 4 * settings.batch_size
    in_memory = tf.data.Dataset.from_tensor_slices((rotated, labels)).batch(batch_samples).cache()
    in_memory_small = (tf.data.Dataset.from_tensor_slices((rotated, labels))
                       .batch(settings.reference_batch_size).cache())

    def model():
        return build_pretext_model(shape, settings.depth, settings.width, settings.seed)

    return [
        Variant("sslexp", batch_samples, model(), lambda: {"x": sslexp_batches}),
        Variant("reference", settings.reference_batch_size, model(),
                lambda: {"x": rotated, "y": labels, "batch_size": settings.reference_batch_size,
                         "shuffle": True}),
        Variant("ceiling", batch_samples, model(), lambda: {"x": in_memory}),
        Variant("ceiling at the reference's batch", settings.reference_batch_size, model(),
                lambda: {"x": in_memory_small}),
    ]


def rate_cell(variant: Variant) -> str:
    return (f"{statistics.median(variant.rates):,.0f} samples/s "
            f"(range {min(variant.rates):,.0f}-{max(variant.rates):,.0f})")


def ratio_cell(ratio: tuple[float, float, float]) -> str:
    median, low, high = ratio
    return f"{median:.2f}x (rounds {low:.2f}-{high:.2f})"


def verdict(value: float, target: float, at_least: bool = True) -> str:
    met = value >= target if at_least else value <= target
    return "met" if met else "missed"


@dataclasses.dataclass
class ThroughputMeasurement:
    variants: list[Variant]  # sslexp, reference, ceiling, ceiling at the reference's batch
    numpy_rotation_s: float
    reference_bytes_per_image: int
    sslexp_bytes_per_image: int
    pipeline_alone: float  # samples/s
    training_flops: int  # per sample
    matmul_tflops: float
    matmul_size: int


def measure_throughput(settings: ThroughputSettings) -> ThroughputMeasurement:
    """Time every variant interleaved, then the pipeline alone and the matmul ceiling."""
    images = load_images(settings)
    started = time.perf_counter()
    rotated, labels = rotate_with_numpy(images)
    numpy_seconds = time.perf_counter() - started
    variants = build_variants(settings, images, rotated, labels)
    time_interleaved(variants, 4 * len(images), settings.rounds)
    return ThroughputMeasurement(
        variants=variants, numpy_rotation_s=numpy_seconds,
        reference_bytes_per_image=rotated.nbytes // len(images),
        sslexp_bytes_per_image=images.nbytes // len(images),
        pipeline_alone=pipeline_alone_rate(images, settings.batch_size),
        training_flops=training_flops_per_sample(variants[0].model),
        matmul_tflops=matmul_tflops("float32", settings.matmul_size),
        matmul_size=settings.matmul_size)


def throughput_rows(settings: ThroughputSettings) -> tuple[list[Row], dict]:
    """Measure, then lay the numbers out as table rows (plus the raw numbers)."""
    measured = measure_throughput(settings)
    sslexp, reference, ceiling, ceiling_small = measured.variants
    versus_reference = paired_ratio(sslexp, reference)
    versus_ceiling = paired_ratio(sslexp, ceiling)
    sslexp_rate = statistics.median(sslexp.rates)
    achieved = measured.training_flops * sslexp_rate
    per_10k = 10_000 / 2 ** 20
    rows = [
        Row(SECTION, f"sslexp: rotation_dataset + fit, batch {sslexp.batch_samples}",
            rate_cell(sslexp)),
        Row(SECTION, f"reference: np.rot90 up front + fit on arrays, batch "
                     f"{reference.batch_samples}", rate_cell(reference)),
        Row(SECTION, f"ceiling: cached in-memory float32 tensors, batch {ceiling.batch_samples}",
            rate_cell(ceiling)),
        Row(SECTION, f"ceiling at the reference's batch {ceiling_small.batch_samples}",
            rate_cell(ceiling_small), note="separates batch size from input feeding"),
        Row(SECTION, "sslexp / reference", ratio_cell(versus_reference),
            ">= 2x, " + verdict(versus_reference[0], 2.0)),
        Row(SECTION, "sslexp / ceiling (pipeline overhead)", ratio_cell(versus_ceiling),
            ">= 0.95x, " + verdict(versus_ceiling[0], 0.95)),
        Row(SECTION, f"batch-size effect: ceiling {ceiling.batch_samples} / ceiling "
                     f"{ceiling_small.batch_samples}", ratio_cell(paired_ratio(ceiling, ceiling_small)),
            note="same data in memory, only the batch differs"),
        Row(SECTION, f"array-feeding effect: reference / ceiling {ceiling_small.batch_samples}",
            ratio_cell(paired_ratio(reference, ceiling_small)),
            note="same batch, NumPy arrays vs cached tensors"),
        Row(SECTION, "input pipeline alone (no model)", f"{measured.pipeline_alone:,.0f} samples/s",
            note=f"{measured.pipeline_alone / sslexp_rate:,.0f}x what the model consumes"),
        Row(SECTION, "reference's up-front rotation",
            f"{measured.numpy_rotation_s:.2f} s for {settings.images:,} images",
            note=f"memory per 10,000 images: reference float32 x4 copy "
                 f"{measured.reference_bytes_per_image * per_10k:,.0f} MiB, sslexp uint8 pool "
                 f"{measured.sslexp_bytes_per_image * per_10k:,.1f} MiB"),
        Row(SECTION, "model compute (training)",
            f"{measured.training_flops / 1e6:,.1f} MFLOP/sample, "
            f"{flops_cell(achieved)} achieved by sslexp",
            note=f"{achieved / (measured.matmul_tflops * 1e12):.0%} of this CPU's float32 matmul "
                 f"ceiling ({flops_cell(measured.matmul_tflops * 1e12)} at "
                 f"{measured.matmul_size}x{measured.matmul_size}); 3x the forward FLOPs"),
    ]
    raw = {variant.name: variant.rates for variant in measured.variants}
    raw.update(sslexp_over_reference=versus_reference[0], sslexp_over_ceiling=versus_ceiling[0])
    return rows, raw
