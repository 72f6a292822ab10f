import keras
import numpy as np
import pytest

from sslexp.data.pipelines import (
    LabelledBatches,
    RotateAll,
    RotateBy,
    RotationBatches,
    rotate,
    rotation_model,
)


def distinct_images(count=6, size=5):
    """Images whose four rotations are all different from each other and from other images."""
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(count, size, size, 1), dtype=np.uint8)


def rotation_of(original, rotated):
    for k in range(4):
        if np.array_equal(np.rot90(original, k, axes=(0, 1)), rotated):
            return k
    return None


def source_of(images, rotated):
    """(index of the source image, its rotation) of one rotated image."""
    (found,) = [
        (i, k) for i in range(len(images)) if (k := rotation_of(images[i], rotated)) is not None
    ]
    return found


def as_uint8(tensor):
    return keras.ops.convert_to_numpy(tensor).astype(np.uint8)


@pytest.mark.parametrize("k", range(4))
def test_rotate_turns_like_numpy_rot90(k):
    images = distinct_images(count=2)
    rotated = as_uint8(rotate(keras.ops.convert_to_tensor(images), k))
    assert np.array_equal(rotated, np.rot90(images, k, axes=(1, 2)))


def test_all_mode_puts_every_rotation_of_every_image_in_its_batch():
    images = distinct_images()
    batches = RotationBatches(images, batch_size=4, mode="all", shuffle=True, seed=1, endless=True)
    rotate_all = RotateAll()
    sources = []
    for index in range(3):  # 12 source images: two passes over the 6
        x, y = batches[index]
        assert x.dtype == np.uint8 and x.shape == (4, 5, 5, 1) and y.shape == (16,)
        rotated = as_uint8(rotate_all(x))
        for position, image in enumerate(x):
            source, _ = source_of(images, image)
            sources.append(source)
            for k in range(4):  # image p's rotations sit at p, p + B, p + 2B, p + 3B
                assert source_of(images, rotated[position + 4 * k]) == (source, k)
                assert y[position + 4 * k] == k
    assert sorted(sources[:6]) == list(range(6)) and sorted(sources[6:12]) == list(range(6))


def test_random_mode_labels_match_rotation_and_change_between_passes():
    images = distinct_images(count=32)
    batches = RotationBatches(
        images, batch_size=8, mode="random", shuffle=False, seed=3, endless=True
    )
    rotate_by = RotateBy()
    passes = []
    for first in (0, 4):  # pass 0 is batches 0-3, pass 1 batches 4-7
        labels = []
        for index in range(first, first + 4):
            x, y = batches[index]
            rotated = as_uint8(rotate_by(x["images"], x["rotations"]))
            for image, label in zip(rotated, y):
                assert rotation_of(images[len(labels)], image) == label
                labels.append(int(label))
        passes.append(labels)
    assert set(passes[0]) == {0, 1, 2, 3}
    assert passes[0] != passes[1]
    again = RotationBatches(
        images, batch_size=8, mode="random", shuffle=False, seed=3, endless=True
    )
    assert np.array_equal(again[5][1], batches[5][1])


def test_a_random_model_validates_on_all_four_rotations():
    images = distinct_images(count=3)
    x, y = RotationBatches(images, batch_size=3, mode="all", model_mode="random")[0]
    rotated = as_uint8(RotateBy()(x["images"], x["rotations"]))
    assert list(y) == [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3
    assert [source_of(images, image) for image in rotated] == [
        (i, k) for k in range(4) for i in range(3)
    ]


def test_training_stream_is_seeded_fixed_shape_and_visits_each_image_once_a_pass():
    images, labels = distinct_images(count=10), np.arange(10)
    stream = LabelledBatches(images, labels, batch_size=4, shuffle=True, seed=7, endless=True)
    assert stream.num_batches is None
    seen = np.concatenate([stream[index][1] for index in range(5)])  # 20 samples: 2 passes
    assert all(len(stream[index][1]) == 4 for index in range(5))
    assert sorted(seen[:10]) == list(range(10)) and sorted(seen[10:]) == list(range(10))
    assert list(seen[:10]) != list(seen[10:])
    same = LabelledBatches(images, labels, batch_size=4, shuffle=True, seed=7, endless=True)
    other = LabelledBatches(images, labels, batch_size=4, shuffle=True, seed=8, endless=True)
    assert np.array_equal(same[3][1], stream[3][1])
    assert not all(np.array_equal(other[i][1], stream[i][1]) for i in range(3))
    assert np.array_equal(stream[2][0], images[stream[2][1]])


def test_a_stream_smaller_than_its_batch_gives_whole_passes():
    stream = LabelledBatches(
        distinct_images(count=3), np.arange(3), batch_size=8, shuffle=True, seed=0, endless=True
    )
    assert sorted(stream[0][1]) == [0, 1, 2] and sorted(stream[1][1]) == [0, 1, 2]


def test_evaluation_pass_is_in_order_with_a_smaller_last_batch():
    images, labels = distinct_images(count=10), np.arange(10)
    batches = LabelledBatches(images, labels, batch_size=4)
    assert batches.num_batches == 3
    assert [list(batches[i][1]) for i in range(3)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    with pytest.raises(IndexError):
        batches[3]


@pytest.mark.slow
def test_rotation_model_predicts_four_rotations_per_image():
    from sslexp.config import BackboneConfig
    from sslexp.models import build_backbone, build_pretext_model

    pretext = build_pretext_model(build_backbone((8, 8, 1), BackboneConfig(depth=8, width=4)))
    images = distinct_images(count=3, size=8)
    assert rotation_model(pretext, "all").predict(images, verbose=0).shape == (12, 4)
    predictions = rotation_model(pretext, "random").predict(
        {"images": images, "rotations": np.array([0, 1, 2], np.int32)}, verbose=0
    )
    assert predictions.shape == (3, 4)
