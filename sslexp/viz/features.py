"""What the pictures are made of: kernels, stage activations and rotation
predictions, read from a model through its named layers."""

from __future__ import annotations

import numpy as np

from sslexp.models import STEM_CONV
from sslexp.viz.models import find_backbone, stage_layer_names

ROTATION_DEGREES = (0, 90, 180, 270)


def first_layer_filters(model) -> np.ndarray:
    """The ``stem_conv`` kernels, shaped (height, width, in_channels, filters)."""
    return np.asarray(find_backbone(model).get_layer(STEM_CONV).get_weights()[0])


def relative_filter_difference(model, other) -> float:
    """mean |first - other| / mean |other| over the ``stem_conv`` kernels: 0 for equal weights."""
    first, second = first_layer_filters(model), first_layer_filters(other)
    if first.shape != second.shape:
        return float("nan")
    return float(np.abs(first - second).mean() / (np.abs(second).mean() or 1.0))


def stage_activations(model, images: np.ndarray) -> dict[str, np.ndarray]:
    """Each residual stage's output for ``images`` (raw 0-255 pixels), by layer name."""
    import keras

    backbone = find_backbone(model)
    names = stage_layer_names(backbone)
    extractor = keras.Model(backbone.input, [backbone.get_layer(name).output for name in names])
    outputs = extractor(np.asarray(images, dtype=np.float32), training=False)
    if len(names) == 1:
        outputs = [outputs]
    return {name: keras.ops.convert_to_numpy(output) for name, output in zip(names, outputs)}


def rotate_all(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every image at 0, 90, 180 and 270 degrees counter-clockwise (as ``tf.image.rot90``).

    Returns images ordered image by image (4 rotations each) and the rotation index 0-3.
    """
    images = np.asarray(images)
    if images.shape[1] != images.shape[2]:
        raise ValueError(
            f"rotation pictures need square images, got {images.shape[1]}x{images.shape[2]}"
        )
    rotated = [np.rot90(image, k, axes=(0, 1)) for image in images for k in range(4)]
    labels = np.tile(np.arange(4), len(images))
    return np.stack(rotated), labels


def predict_rotations(pretext_model, images: np.ndarray) -> np.ndarray:
    """The pretext model's rotation probabilities, shaped (N, 4)."""
    import keras

    probabilities = pretext_model(np.asarray(images, dtype=np.float32), training=False)
    return keras.ops.convert_to_numpy(probabilities)
