"""Downstream augmentation: reproducible per batch, shifts and flips, never rotations."""

import numpy as np

from sslexp.data.pipelines import LabelledBatches
from sslexp.training.augmentation import AugmentedBatches, augment, augmentation_layers, augmented


def test_augmentation_is_a_pure_function_of_the_seed():
    images = np.random.default_rng(0).integers(0, 256, (16, 12, 12, 1), dtype=np.uint8)
    first, again, other = augment(images, 3), augment(images, 3), augment(images, 4)
    assert first.dtype == np.uint8 and first.shape == images.shape
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert not np.array_equal(first, images)


def test_it_only_shifts_and_flips_so_no_new_pixel_values_appear():
    images = np.random.default_rng(1).integers(1, 256, (8, 10, 10, 1), dtype=np.uint8)
    for image, moved in zip(images, augment(images, 5)):
        # nearest-neighbour shifts copy pixels and fill with 0: nothing is interpolated
        assert set(np.unique(moved)) <= set(np.unique(image)) | {0}
    names = [type(layer).__name__ for layer in augmentation_layers()]
    assert names == ["RandomTranslation", "RandomFlip"]
    assert not any("Rotation" in name for name in names)  # the pretext's label


def test_the_training_stream_is_augmented_only_when_asked_and_labels_pass_through():
    images = np.random.default_rng(2).integers(0, 256, (10, 8, 8, 1), dtype=np.uint8)
    labels = np.arange(10)
    batches = LabelledBatches(images, labels, 4, shuffle=True, seed=0, endless=True)
    assert augmented(batches, False, 0) is batches
    stream = augmented(batches, True, 0)
    assert isinstance(stream, AugmentedBatches) and stream.num_batches is None
    plain_images, plain_labels = batches[2]
    moved, moved_labels = stream[2]
    assert np.array_equal(moved_labels, plain_labels)
    assert np.array_equal(moved, stream[2][0]) and moved.shape == plain_images.shape
