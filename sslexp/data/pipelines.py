"""Input pipelines for any Keras backend: batches of uint8 images gathered by index
from in-memory arrays (``keras.utils.PyDataset``), and the RotNet rotations done
inside the model with ``keras.ops``, so they run on the accelerator.

RotNet pretext batches:

``all``: every batch holds all four rotations of each of its images (RotNet
proper): the data set yields B images and the 4B labels 0..0, 1..1, 2..2,
3..3; ``RotateAll``, the first layer of ``rotation_model``, turns the B images
into the 4B rotated ones in that order. ``random``: one rotation per image,
drawn per pass from the seed (the reference experiment's variant); the data
set yields the images and their rotations, ``RotateBy`` rotates them.

Training streams are endless, seeded and fixed-shape: pass ``p`` visits the
images in the order of a permutation drawn from ``(seed, p)``, and every batch
holds exactly ``min(batch_size, n)`` samples, the last ones of a pass followed
by the first ones of the next. Keras takes ``steps_per_epoch`` batches an
epoch and keeps the stream going across epochs; batch ``i`` is a pure function
of ``i``, so prefetching threads cannot change the order. One batch shape
means one trace (TensorFlow) or one compilation (JAX) of the training step.
Evaluation data sets make one pass in order, the last batch smaller.

Images travel as uint8 (a quarter of float32's bytes to the device); the model
casts them (``Rescaling`` in the backbone, or the rotation layers).
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from sslexp.config import ROTATION_MODES

REGISTERED_PACKAGE = "sslexp"


def rotate(images, k: int):
    """(B,H,W,C) rotated by k x 90 degrees counter-clockwise, like ``np.rot90(image, k)``.

    Static transposes and flips: no conditional on a traced value.
    """
    k %= 4
    if k == 0:
        return images
    if k == 1:
        return ops.transpose(ops.flip(images, 2), (0, 2, 1, 3))
    if k == 2:
        return ops.flip(ops.flip(images, 1), 2)
    return ops.flip(ops.transpose(images, (0, 2, 1, 3)), 2)


def rotate_all(images):
    """(B,H,W,C) -> (4B,H,W,C): all images at 0, then 90, 180, 270 degrees."""
    return ops.concatenate([rotate(images, k) for k in range(4)], axis=0)


def rotate_by(images, rotations):
    """Image i rotated by ``rotations[i]`` x 90 degrees (square images)."""
    stacked = ops.stack([rotate(images, k) for k in range(4)], axis=1)  # (B,4,H,W,C)
    index = ops.reshape(ops.cast(rotations, "int32"), (-1, 1, 1, 1, 1))
    return ops.squeeze(ops.take_along_axis(stacked, index, axis=1), axis=1)


def all_rotation_labels(count: int) -> np.ndarray:
    """The labels ``rotate_all`` gives ``count`` images: count 0s, then 1s, 2s, 3s."""
    return np.repeat(np.arange(4, dtype=np.int32), count)


@keras.saving.register_keras_serializable(REGISTERED_PACKAGE)
class RotateAll(keras.layers.Layer):
    """uint8 (B,H,W,C) -> float32 (4B,H,W,C), all four rotations, inside the model."""

    def call(self, images):
        return ops.cast(rotate_all(images), "float32")

    def compute_output_shape(self, input_shape):
        batch = None if input_shape[0] is None else 4 * input_shape[0]
        return (batch, *input_shape[1:])


@keras.saving.register_keras_serializable(REGISTERED_PACKAGE)
class RotateBy(keras.layers.Layer):
    """(uint8 images (B,H,W,C), rotations (B,)) -> float32 rotated images."""

    def call(self, images, rotations):
        return ops.cast(rotate_by(images, rotations), "float32")

    def compute_output_shape(self, images_shape, rotations_shape):
        return tuple(images_shape)


def rotation_model(pretext_model, mode: str):
    """The model ``fit`` trains for the pretext task: rotation layers, then ``pretext_model``.

    ``all``: uint8 images in, 4B rotation predictions out. ``random``: a dict of
    uint8 ``images`` and their ``rotations`` in. The layers run in float32
    whatever the dtype policy; the backbone casts on.
    """
    _check_mode(mode)
    images = keras.Input(pretext_model.input_shape[1:], dtype="uint8", name="images")
    if mode == "all":
        rotated = RotateAll(dtype="float32", name="rotate_all")(images)
        return keras.Model(images, pretext_model(rotated), name="rotnet_all")
    rotations = keras.Input((), dtype="int32", name="rotations")
    rotated = RotateBy(dtype="float32", name="rotate_by")(images, rotations)
    return keras.Model(
        {"images": images, "rotations": rotations}, pretext_model(rotated), name="rotnet_random"
    )


def _check_mode(mode: str) -> None:
    if mode not in ROTATION_MODES:
        raise ValueError(f"rotation mode must be one of {ROTATION_MODES}, got {mode!r}")


class BatchOrder:
    """Which samples batch ``i`` holds: a seeded, endless stream of fixed-size batches
    (``endless``), or one pass in order with a smaller last batch."""

    def __init__(self, size: int, batch_size: int, shuffle: bool, seed: int, endless: bool):
        if size < 1:
            raise ValueError("a pipeline needs at least one image")
        if batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {batch_size}")
        self.size = size
        self.batch_size = min(batch_size, size) if endless else batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.endless = endless
        self._orders: dict[int, np.ndarray] = {}

    @property
    def batches(self) -> int | None:
        """Batches of one pass (None for an endless stream)."""
        return None if self.endless else math.ceil(self.size / self.batch_size)

    def order(self, pass_index: int) -> np.ndarray:
        """The permutation pass ``pass_index`` visits the samples in."""
        order = self._orders.get(pass_index)
        if order is None:
            order = (
                np.random.default_rng([self.seed, pass_index]).permutation(self.size)
                if self.shuffle
                else np.arange(self.size)
            )
            self._orders = {
                pass_index: order,
                **{k: v for k, v in self._orders.items() if k >= pass_index - 1},
            }
        return order

    def positions(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(pass of each sample, sample index) for batch ``index``."""
        start = index * self.batch_size
        stop = start + self.batch_size if self.endless else min(start + self.batch_size, self.size)
        if not self.endless and (index < 0 or start >= self.size):
            raise IndexError(f"batch {index} is past the end of the pass")
        stream = np.arange(start, stop)
        passes, offsets = np.divmod(stream, self.size)
        samples = np.empty(len(stream), dtype=np.int64)
        for pass_index in np.unique(passes):
            chosen = passes == pass_index
            samples[chosen] = self.order(int(pass_index))[offsets[chosen]]
        return passes, samples


class LabelledBatches(keras.utils.PyDataset):
    """(uint8 images, labels) batches: an endless shuffled stream for training
    (``endless=True``; give ``fit`` a ``steps_per_epoch``), one pass otherwise."""

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        endless: bool = False,
    ):
        super().__init__()
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images, self.labels = images, labels
        self.batch_order = BatchOrder(len(images), batch_size, shuffle, seed, endless)

    @property
    def num_batches(self) -> int | None:
        return self.batch_order.batches

    def __getitem__(self, index: int):
        _, samples = self.batch_order.positions(index)
        return self.images[samples], self.labels[samples]


class RotationBatches(keras.utils.PyDataset):
    """Pretext batches for ``rotation_model``: B source images (``batch_size``) and
    their rotation labels, 4B of them in ``all`` mode.

    ``model_mode`` is the mode of the model fed (default: ``mode``): a ``random``
    model validates on ``all`` batches given as each image four times with its
    four rotations.
    """

    def __init__(
        self,
        images: np.ndarray,
        batch_size: int,
        mode: str,
        shuffle: bool = False,
        seed: int = 0,
        endless: bool = False,
        model_mode: str | None = None,
    ):
        super().__init__()
        _check_mode(mode)
        self.model_mode = model_mode or mode
        _check_mode(self.model_mode)
        self.images, self.mode, self.seed = images, mode, seed
        self.batch_order = BatchOrder(len(images), batch_size, shuffle, seed, endless)
        self._rotations: dict[int, np.ndarray] = {}

    @property
    def num_batches(self) -> int | None:
        return self.batch_order.batches

    def steps_per_pass(self) -> int:
        return math.ceil(len(self.images) / self.batch_order.batch_size)

    def rotations(self, pass_index: int) -> np.ndarray:
        """The rotation of every image in pass ``pass_index`` (``random`` mode)."""
        drawn = self._rotations.get(pass_index)
        if drawn is None:
            generator = np.random.default_rng([self.seed, pass_index, 4])
            drawn = generator.integers(0, 4, len(self.images)).astype(np.int32)
            self._rotations = {
                pass_index: drawn,
                **{k: v for k, v in self._rotations.items() if k >= pass_index - 1},
            }
        return drawn

    def __getitem__(self, index: int):
        passes, samples = self.batch_order.positions(index)
        images = self.images[samples]
        if self.mode == "all":
            labels = all_rotation_labels(len(samples))
            if self.model_mode == "all":
                return images, labels
            return {"images": np.tile(images, (4, 1, 1, 1)), "rotations": labels}, labels
        rotations = np.empty(len(samples), dtype=np.int32)
        for pass_index in np.unique(passes):
            chosen = passes == pass_index
            rotations[chosen] = self.rotations(int(pass_index))[samples[chosen]]
        return {"images": images, "rotations": rotations}, rotations
