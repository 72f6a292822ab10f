"""Input pipelines: batches of (rotated) images for the pretext task and labelled
batches for downstream training.

RotNet pretext batches:

``all``: every batch holds all four rotations of each of its images (RotNet
proper). ``random``: one random rotation per image per epoch (the reference
experiment's variant). Rotation runs inside the tf.data graph, in parallel,
and the pipeline prefetches, so the model never waits on Python.

Rotations are written as static transposes and flips rather than
``tf.image.rot90``: rot90 builds a four-way conditional whose branches
TensorFlow instantiates again for every new iterator, which cost 0.1-0.3 s at
the start of every epoch (training and validation) on a 2-core machine. The
shuffle moves indices, not images, and the batch is gathered in one op.
"""

from __future__ import annotations

import numpy as np

from sslexp.config import ROTATION_MODES


def rotate(images, k: int):
    """(B,H,W,C) rotated by k x 90 degrees counter-clockwise, like ``np.rot90(image, k)``."""
    import tensorflow as tf

    k %= 4
    if k == 0:
        return images
    if k == 1:
        return tf.transpose(tf.reverse(images, [2]), [0, 2, 1, 3])
    if k == 2:
        return tf.reverse(images, [1, 2])
    return tf.reverse(tf.transpose(images, [0, 2, 1, 3]), [2])


def rotate_all(images):
    """(B,H,W,C) -> (4B,H,W,C) with labels 0,1,2,3 = 0, 90, 180, 270 degrees."""
    import tensorflow as tf

    rotated = [rotate(images, k) for k in range(4)]
    labels = tf.repeat(tf.range(4, dtype=tf.int32), tf.shape(images)[0])
    return tf.concat(rotated, axis=0), labels


def rotate_randomly(images, seed):
    """One rotation per image, drawn with a stateless seed (reproducible per epoch)."""
    import tensorflow as tf

    labels = tf.random.stateless_uniform([tf.shape(images)[0]], seed=seed, minval=0, maxval=4,
                                         dtype=tf.int32)
    stacked = tf.stack([rotate(images, k) for k in range(4)], axis=1)
    return tf.gather(stacked, labels, axis=1, batch_dims=1), labels


def rotation_dataset(images: np.ndarray, batch_size: int, mode: str, shuffle: bool, seed: int):
    """A dataset of (rotated float32 images, rotation labels) batches.

    ``batch_size`` counts source images; in ``all`` mode a batch holds 4x as
    many samples.
    """
    import tensorflow as tf

    if mode not in ROTATION_MODES:
        raise ValueError(f"rotation mode must be one of {ROTATION_MODES}, got {mode!r}")
    source = tf.convert_to_tensor(images)
    # Shuffling indices gives the same order a shuffle of the images would, for less copying.
    indices = tf.data.Dataset.range(len(images))
    if shuffle:
        indices = indices.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    indices = indices.batch(batch_size)
    if mode == "all":
        def rotated_batch(batch_indices):
            rotated, labels = rotate_all(tf.gather(source, batch_indices))
            return tf.cast(rotated, tf.float32), labels

        data = indices.map(rotated_batch, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        def rotated_batch(batch_indices, batch_seed):
            rotated, labels = rotate_randomly(tf.gather(source, batch_indices), batch_seed)
            return tf.cast(rotated, tf.float32), labels

        # New stateless seeds every epoch, reproducible from ``seed``.
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        data = tf.data.Dataset.zip((indices, seeds)).map(
            rotated_batch, num_parallel_calls=tf.data.AUTOTUNE)
    return data.prefetch(tf.data.AUTOTUNE)


def labelled_dataset(images: np.ndarray, labels: np.ndarray, batch_size: int, shuffle: bool,
                     seed: int):
    """Batches of (float32 images, labels), reshuffled every epoch when ``shuffle``."""
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices((images, labels))
    if shuffle:
        data = data.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size).map(lambda x, y: (tf.cast(x, tf.float32), y),
                                      num_parallel_calls=tf.data.AUTOTUNE)
    return data.prefetch(tf.data.AUTOTUNE)
