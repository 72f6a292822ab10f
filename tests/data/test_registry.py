import gzip
import time

import numpy as np
import pytest

from sslexp.data import fashion_mnist, load_dataset, registry, resolve_source
from sslexp.errors import DataUnavailableError, InputError


def test_digits_gives_pool_test_and_classes_resized(tmp_path):
    data = load_dataset("digits", 12, tmp_path)
    assert data.pool_images.shape == (1437, 12, 12, 1)
    assert data.test_images.shape == (360, 12, 12, 1)
    assert data.pool_images.dtype == np.uint8
    assert data.class_names == tuple("0123456789")
    assert set(np.unique(data.pool_labels)) == set(range(10))


def test_second_load_comes_from_the_cache(tmp_path, monkeypatch):
    first = load_dataset("digits", 10, tmp_path)
    assert list(tmp_path.glob("digits-10px-*.npz"))
    monkeypatch.setattr(
        registry, "resize_images", lambda *a, **k: pytest.fail("decoded again despite the cache")
    )
    again = load_dataset("digits", 10, tmp_path)
    assert again.fingerprint == first.fingerprint
    assert np.array_equal(again.test_images, first.test_images)


def test_unknown_dataset_lists_what_is_allowed():
    with pytest.raises(InputError) as raised:
        resolve_source("imagenet")
    assert raised.value.option == "dataset"
    assert "digits" in raised.value.problem and "folder:PATH" in raised.value.problem


def write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as stream:
        stream.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_reads_idx_files(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    arrays = {
        "pool_images": rng.integers(0, 256, (40, 28, 28)),
        "pool_labels": np.arange(40) % 10,
        "test_images": rng.integers(0, 256, (20, 28, 28)),
        "test_labels": np.arange(20) % 10,
    }
    for key, name in fashion_mnist.FILES.items():
        write_idx(tmp_path / name, arrays[key])
    monkeypatch.setenv("SSLEXP_FASHION_MNIST_DIR", str(tmp_path))
    data = load_dataset("fashion_mnist", 28, tmp_path / "cache")
    assert data.pool_images.shape == (40, 28, 28, 1)
    assert np.array_equal(data.pool_images[..., 0], arrays["pool_images"])
    assert np.array_equal(data.test_labels, arrays["test_labels"])
    assert data.class_names[0] == "T-shirt/top"


def test_cats_vs_dogs_through_tfds_mock_data(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    from sslexp.data import tfds as tfds_source

    # The mock replaces the download; the reachability check before it must pass.
    monkeypatch.setattr(tfds_source, "require_network", lambda *args, **kwargs: None)
    with tfds.testing.mock_data(num_examples=12):
        data = load_dataset("cats_vs_dogs", 16, tmp_path)
    assert data.pool_images.shape == (12, 16, 16, 3)  # mock data ignores split slicing
    assert data.test_images.shape == (12, 16, 16, 3)
    assert data.class_names == ("cat", "dog")


def test_tfds_download_without_network_fails_fast(tmp_path, monkeypatch):
    from sslexp.data import tfds as network

    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setattr(
        network.socket,
        "create_connection",
        lambda *a, **k: (_ for _ in ()).throw(OSError("unreachable")),
    )
    started = time.monotonic()
    with pytest.raises(DataUnavailableError, match="TFDS_DATA_DIR"):
        load_dataset("cats_vs_dogs", 16, tmp_path / "cache")
    assert time.monotonic() - started < 30
