"""tf.data pipelines for the RotNet pretext task.

``all``: every batch holds all four rotations of each of its images (RotNet
proper). ``random``: one random rotation per image per epoch (the reference
experiment's variant). Rotation runs inside the tf.data graph, in parallel,
and the pipeline prefetches, so the model never waits on Python.
"""

from __future__ import annotations

import numpy as np

ROTATION_MODES = ("all", "random")


def rotate_all(images):
    """(B,H,W,C) -> (4B,H,W,C) with labels 0,1,2,3 = 0, 90, 180, 270 degrees."""
    import tensorflow as tf

    rotated = [tf.image.rot90(images, k) for k in range(4)]
    labels = tf.repeat(tf.range(4, dtype=tf.int32), tf.shape(images)[0])
    return tf.concat(rotated, axis=0), labels


def rotate_randomly(images, seed):
    """One rotation per image, drawn with a stateless seed (reproducible per epoch)."""
    import tensorflow as tf

    labels = tf.random.stateless_uniform([tf.shape(images)[0]], seed=seed, minval=0, maxval=4,
                                         dtype=tf.int32)
    stacked = tf.stack([tf.image.rot90(images, k) for k in range(4)], axis=1)
    return tf.gather(stacked, labels, axis=1, batch_dims=1), labels


def rotation_dataset(images: np.ndarray, batch_size: int, mode: str, shuffle: bool, seed: int):
    """A dataset of (rotated float32 images, rotation labels) batches.

    ``batch_size`` counts source images; in ``all`` mode a batch holds 4x as
    many samples.
    """
    import tensorflow as tf

    if mode not in ROTATION_MODES:
        raise ValueError(f"rotation mode must be one of {ROTATION_MODES}, got {mode!r}")
    data = tf.data.Dataset.from_tensor_slices(images)
    if shuffle:
        data = data.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size)
    if mode == "all":
        data = data.map(rotate_all, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        # New stateless seeds every epoch, reproducible from ``seed``.
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        data = tf.data.Dataset.zip((data, seeds)).map(
            rotate_randomly, num_parallel_calls=tf.data.AUTOTUNE)
    data = data.map(lambda x, y: (tf.cast(x, tf.float32), y), num_parallel_calls=tf.data.AUTOTUNE)
    return data.prefetch(tf.data.AUTOTUNE)
