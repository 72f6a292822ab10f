"""Fashion-MNIST: Debian's dataset-fashion-mnist IDX files when present, else tfds."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from sslexp.data.dataset import DatasetSource, RawDataset
from sslexp.data.tfds import is_reachable

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
FILES = {
    "pool_images": "train-images-idx3-ubyte.gz",
    "pool_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


def idx_dir() -> Path:
    return Path(os.environ.get("SSLEXP_FASHION_MNIST_DIR", DEBIAN_DIR))


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (the MNIST format): magic, dimensions, then uint8 data."""
    with gzip.open(path, "rb") as stream:
        data = stream.read()
    if data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def has_idx_files(directory: Path) -> bool:
    return all((directory / name).exists() for name in FILES.values())


def load(image_size: int) -> RawDataset:
    del image_size  # 28x28 arrays are resized by the registry
    directory = idx_dir()
    if has_idx_files(directory):
        arrays = {key: read_idx(directory / name) for key, name in FILES.items()}
        return RawDataset(
            arrays["pool_images"][..., None],
            arrays["pool_labels"],
            arrays["test_images"][..., None],
            arrays["test_labels"],
            CLASS_NAMES,
        )
    from sslexp.data.tfds import load_tfds

    how = (
        "Install Debian's package (`sudo apt-get install dataset-fashion-mnist`, which "
        f"puts the IDX files in {DEBIAN_DIR}), or set SSLEXP_FASHION_MNIST_DIR to a "
        "directory holding the four *-ubyte.gz files."
    )
    return load_tfds("fashion_mnist", "train", "test", 28, "storage.googleapis.com", how)


def source() -> DatasetSource:
    def availability() -> tuple[bool, str]:
        from sslexp.data.tfds import is_prepared

        if has_idx_files(idx_dir()):
            return True, f"IDX files in {idx_dir()}"
        if is_prepared("fashion_mnist"):
            return True, "prepared by tfds"
        if is_reachable("storage.googleapis.com", timeout=2.0):
            return True, "downloads through tfds on first use"
        return False, "install the Debian package dataset-fashion-mnist"

    return DatasetSource(
        name="fashion_mnist",
        source="Debian dataset-fashion-mnist IDX files, else tfds fashion_mnist",
        sizes="pool 60,000 / test 10,000, 28x28x1, 10 classes",
        load=load,
        availability=availability,
        extent=lambda: (70000, 1),
        cache_token=lambda: str(idx_dir()) if has_idx_files(idx_dir()) else "tfds",
    )
