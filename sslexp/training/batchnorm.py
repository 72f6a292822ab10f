"""BatchNorm statistics that match the weights, the same rule for ssl and scratch.

Keras keeps each BatchNormalization layer's moving mean and variance with
momentum 0.99, so after a few hundred updates they still carry much of their
starting values: the pool's statistics for ssl, mean 0 and variance 1 for
scratch. Evaluated with those, a short scratch run can score far below what
its own weights give with batch statistics. Before each validation and before
the test, the moving statistics of the BatchNorm layers that train are
recomputed from the run's own labelled training images (never the pool,
validation or test images): a forward pass in training mode over a few
batches, each layer's momentum set to the share of the images seen before, so
the result is the plain average over the batches. Layers frozen by the
fine-tune policy run in inference mode and keep their statistics.

Validation-time recalibration is undone after the validation, so training
itself (and every checkpoint) sees exactly what Keras would have kept; the
test then reports both. Backend-neutral: layer calls and ``keras.ops`` only.
Imports Keras, like the rest of ``sslexp.training``; the command line imports training
only when a command trains.
"""

from __future__ import annotations

import keras
import numpy as np

RECALIBRATION_IMAGES = 512
RECALIBRATION_BATCH = 128  # few forward calls; the average of the batch means is the same


def trainable_batchnorm_layers(model) -> list:
    """The BatchNormalization layers that train (inside nested models too)."""
    found = []

    def visit(layer, parent_trainable: bool):
        trainable = parent_trainable and layer.trainable
        if isinstance(layer, keras.layers.BatchNormalization):
            if trainable:
                found.append(layer)
        for inner in getattr(layer, "layers", []) or []:
            visit(inner, trainable)

    visit(model, True)
    return found


def moving_statistics(layers) -> list[tuple[np.ndarray, np.ndarray]]:
    return [
        (
            keras.ops.convert_to_numpy(layer.moving_mean),
            keras.ops.convert_to_numpy(layer.moving_variance),
        )
        for layer in layers
    ]


def restore_statistics(layers, statistics) -> None:
    for layer, (mean, variance) in zip(layers, statistics):
        layer.moving_mean.assign(mean)
        layer.moving_variance.assign(variance)


def recalibration_images(
    images: np.ndarray, seed: int, limit: int = RECALIBRATION_IMAGES
) -> np.ndarray:
    """Up to ``limit`` of ``images`` in a seeded order: the same ones every time."""
    order = np.random.default_rng([seed, 2711]).permutation(len(images))[:limit]
    return images[np.sort(order)]


def recalibrate(model, images: np.ndarray, batch_size: int = RECALIBRATION_BATCH) -> dict:
    """Replace the moving statistics of the training BatchNorm layers by their average over
    batches of ``images`` (raw pixels, as the model's input), each batch weighted by its size.

    Batches larger than training's cost fewer forward calls and give the same mean; their
    within-batch variances are, if anything, closer to the images' variance.

    Returns what was done, for the record.
    """
    layers = trainable_batchnorm_layers(model)
    if not layers or len(images) == 0:
        return {"layers": len(layers), "images": 0, "batches": 0}
    momenta = [layer.momentum for layer in layers]
    seen = 0
    batches = 0
    try:
        for start in range(0, len(images), batch_size):
            batch = np.asarray(images[start : start + batch_size], dtype="float32")
            for layer in layers:
                # moving = moving * seen / (seen + n) + batch statistic * n / (seen + n)
                layer.momentum = seen / (seen + len(batch))
            model(keras.ops.convert_to_tensor(batch), training=True)
            seen += len(batch)
            batches += 1
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
    return {"layers": len(layers), "images": int(seen), "batches": batches}


class RecalibrateBeforeValidation(keras.callbacks.Callback):
    """Recompute the statistics before each validation (``on_test_begin`` fires inside
    ``fit``) and put Keras' own back after it, so training is unchanged."""

    def __init__(self, images: np.ndarray, batch_size: int = RECALIBRATION_BATCH):
        super().__init__()
        self.images = images
        self.batch_size = batch_size
        self._saved = None
        self._layers = []

    def on_test_begin(self, logs=None):
        self._layers = trainable_batchnorm_layers(self.model)
        self._saved = moving_statistics(self._layers)
        recalibrate(self.model, self.images, self.batch_size)

    def on_test_end(self, logs=None):
        if self._saved is not None:
            restore_statistics(self._layers, self._saved)
            self._saved = None
