"""Pretext training throughput per Keras backend: sslexp's pipeline (uint8 batches from a
PyDataset, the four rotations done by the model) against the reference experiment's
way (every rotation built up front with NumPy, ``fit`` on float32 arrays, batch 32).

Each installed backend runs in its own process (``bench_backends``). Inside it,
both variants train identically initialised copies of one model on the same
rotated samples and are timed interleaved, one epoch each in turn, so that
noise from other processes on the machine hits them alike. Rates are medians
of the timed epochs; the first epoch of each (tracing, compiling) is left out.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
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
        return (
            f"pretext throughput: {self.dataset} {self.image_size}x{self.image_size}, "
            f"ResNet-{self.depth} width {self.width}, {self.images} images = "
            f"{4 * self.images} rotated samples an epoch, sslexp batch {self.batch_size} "
            f"images ({4 * self.batch_size} samples), reference batch "
            f"{self.reference_batch_size} samples, 1 warm-up + {self.rounds} timed epochs "
            "per variant, each backend in its own process"
        )

    def as_json(self) -> dict:
        return {**dataclasses.asdict(self), "cache_dir": str(self.cache_dir)}


def load_images(settings: ThroughputSettings) -> np.ndarray:
    """The first ``images`` pool images (uint8) of the bench data set."""
    from sslexp.data import load_dataset

    pool = load_dataset(settings.dataset, settings.image_size, settings.cache_dir).pool_images
    if len(pool) < settings.images:
        raise ValueError(
            f"{settings.dataset} has only {len(pool)} pool images; "
            f"ask for at most that many with --images."
        )
    return pool[: settings.images]


def rotate_with_numpy(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The reference approach: every rotation of every image built up front in Python."""
    rotated, labels = [], []
    for image in images:
        for k in range(4):
            rotated.append(np.rot90(image, k))
            labels.append(k)
    return np.asarray(rotated, dtype=np.float32), np.asarray(labels, dtype=np.int32)


def build_pretext_model(input_shape, depth: int, width: int, seed: int, rotating: bool):
    """The pretext model compiled as ``sslexp pretrain`` compiles it, with a fixed init;
    ``rotating``: behind the rotation layers, as sslexp trains it."""
    import keras

    from sslexp.config import BackboneConfig
    from sslexp.data.pipelines import rotation_model
    from sslexp.models import build_backbone
    from sslexp.models import build_pretext_model as add_rotation_head

    keras.utils.set_random_seed(seed)
    model = add_rotation_head(build_backbone(input_shape, BackboneConfig(depth, width)))
    if rotating:
        model = rotation_model(model, "all")
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
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
        warnings.simplefilter("ignore")
        model.fit(**fit_arguments, epochs=1, verbose=0, callbacks=[timer])
    return timer.seconds


def time_interleaved(variants: dict, samples: int, rounds: int) -> dict[str, list[float]]:
    """One warm-up epoch each (tracing), then rounds of one epoch each, in rotating order.

    ``variants``: name -> (model, fit arguments); returns name -> samples/s per round.
    """
    names = list(variants)
    for name in names:
        epoch_seconds(*variants[name])
    rates = {name: [] for name in names}
    for round_index in range(rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            rates[name].append(samples / epoch_seconds(*variants[name]))
    return rates


def pipeline_alone_rate(images: np.ndarray, batch_size: int, repeats: int = 3) -> float:
    """Samples per second sslexp's batches deliver with no model attached (host side)."""
    from sslexp.data.pipelines import RotationBatches

    batches = RotationBatches(images, batch_size, "all", shuffle=True, seed=0, endless=True)
    steps = batches.steps_per_pass()
    rates = []
    for repeat in range(repeats + 1):
        started = time.perf_counter()
        count = sum(len(batches[repeat * steps + index][1]) for index in range(steps))
        rates.append(count / (time.perf_counter() - started))
    return statistics.median(rates[1:])


def measure_in_this_backend(settings_json: dict) -> dict:
    """Runs in a child process under one backend: both variants, interleaved."""
    import keras
    from bench_flops import matmul_tflops, training_flops_per_sample

    from sslexp.data.pipelines import RotationBatches

    settings = ThroughputSettings(
        **{**settings_json, "cache_dir": Path(settings_json["cache_dir"])}
    )
    images = load_images(settings)
    started = time.perf_counter()
    rotated, labels = rotate_with_numpy(images)
    numpy_seconds = time.perf_counter() - started
    shape = images.shape[1:]
    batches = RotationBatches(
        images, settings.batch_size, "all", shuffle=True, seed=settings.seed, endless=True
    )
    sslexp_model = build_pretext_model(
        shape, settings.depth, settings.width, settings.seed, rotating=True
    )
    reference_model = build_pretext_model(
        shape, settings.depth, settings.width, settings.seed, rotating=False
    )
    variants = {
        "sslexp": (
            sslexp_model,
            {"x": batches, "steps_per_epoch": batches.steps_per_pass(), "shuffle": False},
        ),
        "reference": (
            reference_model,
            {
                "x": rotated,
                "y": labels,
                "shuffle": True,
                "batch_size": settings.reference_batch_size,
            },
        ),
    }
    rates = time_interleaved(variants, 4 * len(images), settings.rounds)
    return {
        "backend": keras.backend.backend(),
        "rates": rates,
        "numpy_rotation_s": numpy_seconds,
        "reference_bytes_per_image": rotated.nbytes // len(images),
        "sslexp_bytes_per_image": images.nbytes // len(images),
        "pipeline_alone": pipeline_alone_rate(images, settings.batch_size),
        "training_flops": training_flops_per_sample(reference_model),
        "matmul_tflops": matmul_tflops("float32", settings.matmul_size),
    }


def rate_cell(rates: list[float]) -> str:
    return f"{statistics.median(rates):,.0f} samples/s (range {min(rates):,.0f}-{max(rates):,.0f})"


def ratio_cell(numerator: list[float], denominator: list[float]) -> tuple[float, str]:
    """Median, and the range, of per-round ratios (rounds are paired in time)."""
    ratios = [a / b for a, b in zip(numerator, denominator)]
    median = statistics.median(ratios)
    return median, f"{median:.2f}x (rounds {min(ratios):.2f}-{max(ratios):.2f})"


def throughput_rows(
    settings: ThroughputSettings, backends: list[str] | None = None
) -> tuple[list[Row], dict]:
    """Measure under every installed backend (of ``backends``), then lay the numbers out as
    table rows."""
    from bench_backends import available_backends, run_in_backend
    from bench_flops import flops_cell

    measured = {
        backend: run_in_backend(
            backend, "bench_throughput:measure_in_this_backend", settings.as_json()
        )
        for backend in available_backends(backends)
    }
    rows = []
    for backend, result in measured.items():
        sslexp, reference = result["rates"]["sslexp"], result["rates"]["reference"]
        versus_reference, ratio_text = ratio_cell(sslexp, reference)
        achieved = result["training_flops"] * statistics.median(sslexp)
        rows += [
            Row(
                SECTION,
                f"{backend}: sslexp pipeline + fit, batch {4 * settings.batch_size}",
                rate_cell(sslexp),
            ),
            Row(
                SECTION,
                f"{backend}: reference, np.rot90 up front + fit on arrays, batch "
                f"{settings.reference_batch_size}",
                rate_cell(reference),
            ),
            Row(
                SECTION,
                f"{backend}: sslexp / reference",
                ratio_text,
                ">= 2x, " + ("met" if versus_reference >= 2 else "missed"),
            ),
            Row(
                SECTION,
                f"{backend}: model compute (training)",
                f"{result['training_flops'] / 1e6:,.1f} MFLOP/sample, {flops_cell(achieved)}",
                note=f"{achieved / (result['matmul_tflops'] * 1e12):.0%} of this device's "
                f"float32 matmul rate ({flops_cell(result['matmul_tflops'] * 1e12)} at "
                f"{settings.matmul_size}x{settings.matmul_size}); 3x the forward FLOPs",
            ),
        ]
    if len(measured) > 1:
        fastest = max(measured, key=lambda b: statistics.median(measured[b]["rates"]["sslexp"]))
        rows.append(
            Row(
                SECTION,
                "fastest backend here (sslexp pipeline)",
                fastest,
                note=", ".join(
                    f"{backend} {statistics.median(r['rates']['sslexp']):,.0f}"
                    for backend, r in measured.items()
                )
                + " samples/s",
            )
        )
    first = next(iter(measured.values()))
    per_10k = 10_000 / 2**20
    rows += [
        Row(
            SECTION,
            "input batches alone (no model)",
            f"{first['pipeline_alone']:,.0f} samples/s",
            note="uint8 gathers by index; the rotations run in the model",
        ),
        Row(
            SECTION,
            "reference's up-front rotation",
            f"{first['numpy_rotation_s']:.2f} s for {settings.images:,} images",
            note=f"memory per 10,000 images: reference float32 x4 copy "
            f"{first['reference_bytes_per_image'] * per_10k:,.0f} MiB, sslexp uint8 pool "
            f"{first['sslexp_bytes_per_image'] * per_10k:,.1f} MiB",
        ),
    ]
    return rows, measured
