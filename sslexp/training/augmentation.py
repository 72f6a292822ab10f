"""Downstream augmentation: random translation and horizontal flip of training batches.

Keras preprocessing layers (``RandomTranslation``, ``RandomFlip``), so it runs on
any backend. Never rotation: which way an image is turned is the pretext task's
label, and rotating downstream images would teach the ssl backbone to forget it
while scratch loses nothing. The same rule for ssl and scratch (``--augment``).

Applied to the uint8 batches of the training stream, not inside the model: the
saved classifier is the plain one, BatchNorm statistics are recomputed from
unaugmented training images, and validation and test never see augmentation.
Batch ``i`` is augmented with a seed drawn from ``(seed, i)``, so the stream stays
a pure function of the batch index, as ``sslexp.data.pipelines`` requires.
Imports Keras: import this module lazily, where training starts.
"""

from __future__ import annotations

import hashlib

import keras
import numpy as np

MAX_SHIFT = 0.1  # of the image height and width


def augmentation_layers() -> list:
    """The layers, in the order they apply."""
    return [
        keras.layers.RandomTranslation(
            MAX_SHIFT,
            MAX_SHIFT,
            fill_mode="constant",
            interpolation="nearest",
            name="random_translation",
        ),
        keras.layers.RandomFlip("horizontal", name="random_flip"),
    ]


def batch_seed(seed: int, index: int) -> int:
    digest = hashlib.sha256(f"sslexp-augment:{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 2**31


def augment(images: np.ndarray, seed: int, layers: list | None = None) -> np.ndarray:
    """uint8 (B,H,W,C) images translated and flipped, reproducibly for ``seed``."""
    layers = layers or augmentation_layers()
    data = keras.ops.convert_to_tensor(np.asarray(images, dtype="float32"))
    for offset, layer in enumerate(layers):
        transformation = layer.get_random_transformation(
            data, training=True, seed=batch_seed(seed, offset)
        )
        data = layer.transform_images(data, transformation, training=True)
    pixels = np.rint(keras.ops.convert_to_numpy(data))
    return np.clip(pixels, 0, 255).astype(np.asarray(images).dtype)


class AugmentedBatches(keras.utils.PyDataset):
    """A training stream whose images are augmented; labels pass through unchanged."""

    def __init__(self, batches: keras.utils.PyDataset, seed: int):
        super().__init__()
        self.batches = batches
        self.seed = seed
        self.layers = augmentation_layers()

    @property
    def num_batches(self) -> int | None:
        return self.batches.num_batches

    def __getitem__(self, index: int):
        images, labels = self.batches[index]
        return augment(images, batch_seed(self.seed, index), self.layers), labels


def augmented(batches: keras.utils.PyDataset, enabled: bool, seed: int):
    """``batches`` augmented when ``enabled``, else unchanged."""
    return AugmentedBatches(batches, seed) if enabled else batches
