"""A short measurement of what training costs on this machine: a few optimizer steps of a
run's own model on its own data, timed after a warm-up, so that a sweep's duration can be
estimated before it starts."""

from __future__ import annotations

import importlib
import statistics
import time
from dataclasses import dataclass

import numpy as np

from sslexp.config import PretrainConfig, TrainConfig

WARMUP_STEPS = 2
MEASURED_STEPS = 6
EVAL_IMAGES = 256


@dataclass(frozen=True)
class StepCosts:
    """Seconds, as measured here."""

    build_s: float  # building and compiling the model, and its first (tracing) steps
    step_s: float  # one optimizer step after the warm-up
    eval_image_s: float  # one image through the model without training

    def fit_s(self, updates: int, validations: int, val_images: int, test_images: int = 0) -> float:
        """A fit of ``updates`` optimizer steps with ``validations`` passes over
        ``val_images``, then one over ``test_images``."""
        return (
            self.build_s
            + updates * self.step_s
            + (validations * val_images + test_images) * self.eval_image_s
        )


def import_seconds() -> float:
    """What importing Keras and its backend costs (every worker process pays it once)."""
    started = time.monotonic()
    importlib.import_module("keras")
    return time.monotonic() - started


def measure_training(config: TrainConfig, data) -> StepCosts:
    """Steps of the run's classifier on its pool images."""
    from sslexp.data.pipelines import LabelledBatches
    from sslexp.models import build_backbone, build_classifier, pool_pixel_mean

    started = time.monotonic()
    images, labels = _sample(data, config.batch_size)
    backbone = build_backbone(
        data.image_shape,
        config.backbone,
        pool_pixel_mean(data.pool_images, config.backbone.preprocessing),
    )
    model = build_classifier(backbone, data.num_classes)
    batches = LabelledBatches(
        images, labels, config.batch_size, shuffle=True, seed=config.run_seed, endless=True
    )
    return _measure(model, batches, config.lr, started, images)


def measure_pretraining(config: PretrainConfig, data) -> StepCosts:
    """Steps of the RotNet model (4 rotations per image with ``rotations: all``)."""
    from sslexp.data.pipelines import RotationBatches, rotation_model
    from sslexp.models import build_backbone, build_pretext_model, pool_pixel_mean

    pretext = config.pretext
    started = time.monotonic()
    images, _ = _sample(data, pretext.batch_size)
    backbone = build_backbone(
        data.image_shape,
        config.backbone,
        pool_pixel_mean(data.pool_images, config.backbone.preprocessing),
    )
    model = build_pretext_model(backbone)
    batches = RotationBatches(
        images, pretext.batch_size, pretext.rotations, shuffle=True, seed=pretext.seed, endless=True
    )
    return _measure(
        rotation_model(model, pretext.rotations),
        batches,
        pretext.lr,
        started,
        images,
        evaluated=model,
    )


def _sample(data, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Enough pool images for the measured steps (repeated when the pool is small)."""
    wanted = batch_size * (WARMUP_STEPS + MEASURED_STEPS)
    indices = np.resize(np.arange(len(data.pool_images)), max(wanted, EVAL_IMAGES))
    return data.pool_images[indices], data.pool_labels[indices]


def _measure(
    model, batches, learning_rate: float, started: float, images: np.ndarray, evaluated=None
) -> StepCosts:
    """Steps of ``model``; the cost of one image through ``evaluated`` (default: ``model``)."""
    import keras

    ends: list[float] = []

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            ends.append(time.monotonic())

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(
        batches,
        steps_per_epoch=WARMUP_STEPS + MEASURED_STEPS,
        epochs=1,
        verbose=0,
        callbacks=[Clock()],
        shuffle=False,
    )  # the pipeline shuffles
    step_s = statistics.median(np.diff(ends[WARMUP_STEPS - 1 :]))
    build_s = ends[WARMUP_STEPS - 1] - started
    evaluated = model if evaluated is None else evaluated
    sample = images[:EVAL_IMAGES]
    evaluated.predict(sample, batch_size=EVAL_IMAGES, verbose=0)  # traced here
    timed = time.monotonic()
    evaluated.predict(sample, batch_size=EVAL_IMAGES, verbose=0)
    eval_image_s = (time.monotonic() - timed) / len(sample)
    return StepCosts(build_s, float(step_s), eval_image_s)
