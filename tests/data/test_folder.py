import numpy as np
import pytest
from PIL import Image

from sslexp.data import load_dataset
from sslexp.errors import InputError


def write_images(root, classes, per_class, size=(20, 14)):
    rng = np.random.default_rng(0)
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (*size[::-1], 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")


def test_folder_loader_skips_and_counts_unreadable_images(tmp_path):
    root = tmp_path / "pets"
    write_images(root, ["cat", "dog", "fox"], per_class=10)
    (root / "dog" / "broken.jpg").write_bytes(b"not a jpeg at all")
    data = load_dataset(f"folder:{root}", 16, tmp_path / "cache")
    assert data.class_names == ("cat", "dog", "fox")
    assert data.skipped == 1 and data.skipped_files == ("dog/broken.jpg",)
    assert len(data.pool_images) + len(data.test_images) == 30
    assert data.pool_images.shape[1:] == (16, 16, 3)
    assert set(np.unique(data.test_labels)) == {0, 1, 2}


def test_cache_notices_new_files(tmp_path):
    root = tmp_path / "pets"
    write_images(root, ["cat", "dog"], per_class=5)
    first = load_dataset(f"folder:{root}", 8, tmp_path / "cache")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / "cat" / "extra.png")
    second = load_dataset(f"folder:{root}", 8, tmp_path / "cache")
    assert len(second.pool_labels) + len(second.test_labels) == 11
    assert second.fingerprint != first.fingerprint


def test_one_class_folder_is_rejected(tmp_path):
    root = tmp_path / "only_cats"
    write_images(root, ["cat"], per_class=4)
    with pytest.raises(InputError, match="at least 2"):
        load_dataset(f"folder:{root}", 8, tmp_path / "cache")


def test_empty_folder_is_rejected(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="found 0 class"):
        load_dataset(f"folder:{tmp_path / 'empty'}", 8, tmp_path / "cache")


def test_missing_folder_is_rejected(tmp_path):
    with pytest.raises(InputError, match="not a directory"):
        load_dataset(f"folder:{tmp_path / 'nope'}", 8, tmp_path / "cache")


def test_unreadable_files_are_named_after_a_load_from_the_cache(tmp_path):
    root = tmp_path / "pets"
    write_images(root, ["cat", "dog"], per_class=4)
    (root / "cat" / "empty.png").write_bytes(b"")
    load_dataset(f"folder:{root}", 8, tmp_path / "cache")
    cached = load_dataset(f"folder:{root}", 8, tmp_path / "cache")
    assert cached.skipped_files == ("cat/empty.png",)
