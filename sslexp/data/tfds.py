"""TensorFlow Datasets sources (cats_vs_dogs, and Fashion-MNIST as a fallback), which
fail fast when a download would need a network this machine does not have."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np

from sslexp.data.dataset import DatasetSource, RawDataset
from sslexp.errors import DataUnavailableError


def is_reachable(host: str, port: int = 443, timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_network(host: str, what: str, how_to_get_it: str, timeout: float = 3.0) -> None:
    """Raise within ``timeout`` seconds instead of letting a downloader retry for minutes."""
    if not is_reachable(host, timeout=timeout):
        raise DataUnavailableError(
            f"{what} is not on this machine and {host} cannot be reached (checked for "
            f"{timeout:.0f} s), so it cannot be downloaded. {how_to_get_it}"
        )


def tfds_data_dir() -> str:
    return os.environ.get("TFDS_DATA_DIR", str(Path.home() / "tensorflow_datasets"))


def is_prepared(name: str) -> bool:
    """Whether tfds has the data set on disk already (no download needed)."""
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=tfds_data_dir())
    return Path(builder.data_dir, "dataset_info.json").exists()


def load_tfds(
    name: str,
    pool_split: str,
    test_split: str,
    image_size: int,
    download_host: str,
    how_to_get_it: str,
) -> RawDataset:
    """Download (once, if reachable) and decode a tfds image data set, resizing on the way."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=tfds_data_dir())
    if not Path(builder.data_dir, "dataset_info.json").exists():
        require_network(download_host, f"The tfds data set {name!r}", how_to_get_it)
        builder.download_and_prepare()

    def to_arrays(split: str) -> tuple[np.ndarray, np.ndarray]:
        dataset = builder.as_dataset(split=split, as_supervised=True, shuffle_files=False)

        def resize(image, label):
            image = tf.image.resize(image, (image_size, image_size), antialias=True)
            return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8), label

        dataset = dataset.map(resize, num_parallel_calls=tf.data.AUTOTUNE).batch(512)
        images, labels = [], []
        for image_batch, label_batch in tfds.as_numpy(dataset):
            images.append(image_batch)
            labels.append(label_batch)
        return np.concatenate(images), np.concatenate(labels)

    pool_images, pool_labels = to_arrays(pool_split)
    test_images, test_labels = to_arrays(test_split)
    class_names = tuple(builder.info.features["label"].names)
    return RawDataset(pool_images, pool_labels, test_images, test_labels, class_names)


def cats_vs_dogs_source() -> DatasetSource:
    how = (
        "Run `sslexp datasets --prepare cats_vs_dogs` once on a machine with internet "
        "access, then copy ~/tensorflow_datasets/cats_vs_dogs here, or point "
        "TFDS_DATA_DIR at a directory that holds it."
    )

    def availability() -> tuple[bool, str]:
        if is_prepared("cats_vs_dogs"):
            return True, f"prepared in {tfds_data_dir()}"
        if is_reachable("download.microsoft.com", timeout=2.0):
            return True, "downloads about 800 MB on first use"
        return False, "not downloaded and no network"

    return DatasetSource(
        name="cats_vs_dogs",
        source="tfds cats_vs_dogs (train[:80%] pool, train[80%:] test; "
        "corrupt JPEGs skipped by tfds)",
        sizes="pool 18,610 / test 4,652, variable size RGB, 2 classes",
        load=lambda image_size: load_tfds(
            "cats_vs_dogs", "train[:80%]", "train[80%:]", image_size, "download.microsoft.com", how
        ),
        availability=availability,
        cache_token=lambda: tfds_data_dir(),
        extent=lambda: (23262, 3),
    )
