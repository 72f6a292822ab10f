"""One backbone builder for pretext, ssl and scratch: the comparison is fair by construction.

ResNet v1 for small images (He et al. 2016, section 4.2): depth 6n+2, three
stages of n basic blocks with ``width``, ``2*width``, ``4*width`` filters.
"""

from __future__ import annotations

import re

import numpy as np

from sslexp.config import MIN_IMAGE_SIZE, BackboneConfig, parse_finetune
from sslexp.errors import InputError

# Heads compute in float32 under any dtype policy: softmax probabilities and the
# loss keep their precision under mixed precision (the Keras guide's advice).
HEAD_DTYPE = "float32"
# The names other code finds a model's parts by (figures, checkpoint loading).
BACKBONE = "backbone"  # the backbone sub-model inside the pretext and classifier models
STEM_CONV = "stem_conv"  # the first convolution: the filters the figures draw
STAGE_OUTPUT = re.compile(r"stage(\d+)_out")  # each residual stage's output layer


def check_image_size(image_size: int) -> None:
    if image_size < MIN_IMAGE_SIZE:
        raise InputError(
            "image_size",
            image_size,
            f"the ResNet backbone downsamples by 4; use at least {MIN_IMAGE_SIZE} pixels.",
        )


def pool_pixel_mean(pool_images: np.ndarray, preprocessing: str) -> np.ndarray | None:
    """The pool's per-pixel mean when the backbone subtracts it, else None.

    Accumulated in float64 by numpy's buffered reduction, never as a float64
    copy of the pool (6 GB for cats_vs_dogs at 120x120).
    """
    if preprocessing != "pixel-mean":
        return None
    return pool_images.mean(axis=0, dtype=np.float64).astype(np.float32)


def build_backbone(
    input_shape: tuple[int, int, int], config: BackboneConfig, pixel_mean: np.ndarray | None = None
):
    """The ResNet backbone as a named functional sub-model: raw 0-255 pixels -> features.

    Preprocessing lives inside, so a saved backbone carries it: ``scale`` maps
    pixels to [0, 1]; ``pixel-mean`` also subtracts the pool's per-pixel mean
    (the reference experiment's preprocessing). Layers take the global dtype
    policy (``--precision``): under mixed precision they compute in bfloat16 or
    float16 and keep float32 weights.
    """
    import keras
    from keras import layers

    check_image_size(input_shape[0])
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    if config.preprocessing == "pixel-mean":
        if pixel_mean is None:
            raise ValueError("pixel-mean preprocessing needs the pool's per-pixel mean")
        x = layers.Normalization(
            axis=(1, 2, 3),
            mean=np.asarray(pixel_mean, np.float32) / 255.0,
            variance=np.ones(input_shape, np.float32),
            name="subtract_pixel_mean",
        )(x)
    x = _conv_bn(x, config.width, stride=1, name="stem")
    x = layers.Activation("relu", name="stem_relu")(x)
    for stage in range(3):
        filters = config.width * 2**stage
        for block in range(config.blocks_per_stage):
            stride = 2 if stage > 0 and block == 0 else 1
            x = _basic_block(x, filters, stride, name=f"stage{stage + 1}_block{block + 1}")
        x = layers.Identity(name=f"stage{stage + 1}_out")(x)
    outputs = layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, outputs, name=BACKBONE)


def _conv_bn(x, filters: int, stride: int, name: str):
    from keras import layers, regularizers

    x = layers.Conv2D(
        filters,
        3,
        strides=stride,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        kernel_regularizer=regularizers.l2(1e-4),
        name=f"{name}_conv",
    )(x)
    return layers.BatchNormalization(name=f"{name}_bn")(x)


def _basic_block(x, filters: int, stride: int, name: str):
    from keras import layers, regularizers

    shortcut = x
    y = _conv_bn(x, filters, stride, name=f"{name}_1")
    y = layers.Activation("relu", name=f"{name}_1_relu")(y)
    y = _conv_bn(y, filters, 1, name=f"{name}_2")
    if stride != 1 or x.shape[-1] != filters:
        shortcut = layers.Conv2D(
            filters,
            1,
            strides=stride,
            use_bias=False,
            kernel_initializer="he_normal",
            kernel_regularizer=regularizers.l2(1e-4),
            name=f"{name}_shortcut_conv",
        )(x)
        shortcut = layers.BatchNormalization(name=f"{name}_shortcut_bn")(shortcut)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.Activation("relu", name=f"{name}_out")(y)


def build_pretext_model(backbone):
    """Backbone + 4-way rotation head (0, 90, 180, 270 degrees)."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=backbone.input_shape[1:], name="image")
    outputs = layers.Dense(4, activation="softmax", dtype=HEAD_DTYPE, name="rotation_head")(
        backbone(inputs)
    )
    return keras.Model(inputs, outputs, name="rotnet")


def build_classifier(backbone, num_classes: int):
    """Backbone + linear classifier head (softmax), the model ssl and scratch both train."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=backbone.input_shape[1:], name="image")
    outputs = layers.Dense(num_classes, activation="softmax", dtype=HEAD_DTYPE, name="classifier")(
        backbone(inputs)
    )
    return keras.Model(inputs, outputs, name="classifier_model")


def apply_finetune_policy(backbone, policy: str) -> list[str]:
    """Set which backbone layers train; return the names of the trainable weighted layers."""
    kind, last_n = parse_finetune(policy)
    weighted = [layer for layer in backbone.layers if layer.weights]
    if kind == "full":
        trainable = weighted
    elif kind == "linear":
        trainable = []
    else:
        if last_n > len(weighted):
            raise InputError(
                "finetune", policy, f"the backbone has only {len(weighted)} weighted layers."
            )
        trainable = weighted[-last_n:]
    chosen = {layer.name for layer in trainable}
    backbone.trainable = bool(chosen)
    for layer in backbone.layers:
        layer.trainable = layer.name in chosen
    return [layer.name for layer in trainable]


def count_params(weights) -> int:
    return int(sum(np.prod(w.shape) for w in weights))


def describe(model) -> dict:
    return {
        "total_params": count_params(model.weights),
        "trainable_params": count_params(model.trainable_weights),
    }


def load_backbone(path, expected_shape: tuple[int, int, int]):
    """Load a pretrained backbone (.keras) and check it fits the data."""
    from pathlib import Path

    import keras

    path = Path(path)
    if not path.is_file():
        raise InputError(
            "pretrained",
            str(path),
            "no such file. Give a backbone.keras written by `sslexp pretrain`, "
            "or use --pretrained auto.",
        )
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as error:  # keras raises many types for a bad archive
        raise InputError(
            "pretrained",
            str(path),
            f"is not a readable Keras model ({type(error).__name__}: {error}).",
        ) from error
    if model.name != BACKBONE:
        try:
            model = model.get_layer(BACKBONE)
        except ValueError as error:
            raise InputError(
                "pretrained",
                str(path),
                "holds no sub-model named 'backbone'; give a file written by `sslexp pretrain`.",
            ) from error
    shape = tuple(model.input_shape[1:])
    if shape != tuple(expected_shape):
        raise InputError(
            "pretrained",
            str(path),
            f"expects images of shape {shape}, but the data set gives "
            f"{tuple(expected_shape)}; pretrain with the same --dataset and --image-size.",
        )
    return model
