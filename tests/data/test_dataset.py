"""Resizing without a deep-learning framework, with TensorFlow's antialiased bilinear filter."""

import numpy as np
import pytest

from sslexp.data.dataset import resampling_weights, resize_images


def tensorflow_resize(images, size):
    tf = pytest.importorskip("tensorflow")
    resized = tf.image.resize(images, (size, size), antialias=True).numpy()
    return np.clip(np.rint(resized), 0, 255).astype(np.uint8)


@pytest.mark.parametrize(
    "shape, size",
    [((20, 8, 8, 1), 16), ((20, 28, 28, 1), 16), ((5, 37, 23, 3), 16), ((3, 120, 120, 3), 32)],
)
def test_resize_matches_tensorflow_to_rounding(shape, size):
    images = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    ours, reference = resize_images(images, size), tensorflow_resize(images, size)
    assert ours.shape == (shape[0], size, size, shape[3]) and ours.dtype == np.uint8
    difference = np.abs(ours.astype(int) - reference.astype(int))
    assert difference.max() <= 1 and (difference > 0).mean() < 0.01


def test_weights_average_neighbours_and_keep_the_mean():
    weights = resampling_weights(8, 4)
    assert np.allclose(weights.sum(axis=1), 1.0)
    assert np.array_equal(weights[0] > 0, [True, True, True, False, False, False, False, False])


def test_lists_of_differently_sized_images_and_the_same_size_pass_through():
    images = [np.full((5, 7, 1), 200, np.uint8), np.zeros((9, 4, 1), np.uint8)]
    resized = resize_images(images, 6)
    assert resized.shape == (2, 6, 6, 1)
    assert (resized[0] == 200).all() and (resized[1] == 0).all()
    same = np.ones((2, 6, 6, 1), np.uint8)
    assert resize_images(same, 6) is not None and np.array_equal(resize_images(same, 6), same)
