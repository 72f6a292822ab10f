import numpy as np

from sslexp.data.pipelines import rotation_dataset


def distinct_images(count=6, size=5):
    """Images whose four rotations are all different from each other and from other images."""
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(count, size, size, 1), dtype=np.uint8)


def rotation_of(original, rotated):
    for k in range(4):
        if np.array_equal(np.rot90(original, k, axes=(0, 1)), rotated):
            return k
    return None


def test_all_mode_puts_every_rotation_of_every_image_in_its_batch():
    images = distinct_images()
    batches = list(rotation_dataset(images, batch_size=3, mode="all", shuffle=True, seed=1))
    assert len(batches) == 2
    seen = {}
    for x, y in batches:
        assert x.shape[0] == 12 and x.dtype.name == "float32"
        in_batch = set()
        for image, label in zip(x.numpy().astype(np.uint8), y.numpy()):
            matches = [(i, rotation_of(images[i], image)) for i in range(len(images))]
            (index, k), = [(i, k) for i, k in matches if k is not None]
            assert k == label
            in_batch.add(index)
            seen.setdefault(index, set()).add(int(label))
        for index in in_batch:
            assert seen[index] == {0, 1, 2, 3}
    assert set(seen) == set(range(len(images)))


def test_random_mode_labels_match_rotation_and_change_between_epochs():
    images = distinct_images(count=32)
    dataset = rotation_dataset(images, batch_size=8, mode="random", shuffle=False, seed=3)
    epochs = []
    for _ in range(2):
        labels = []
        for x, y in dataset:
            for i, (image, label) in enumerate(zip(x.numpy().astype(np.uint8), y.numpy())):
                index = len(labels)
                assert rotation_of(images[index], image) == label
                labels.append(int(label))
        epochs.append(labels)
    assert len(epochs[0]) == 32
    assert set(epochs[0]) == {0, 1, 2, 3}
    assert epochs[0] != epochs[1]
