"""Registry from data set names to sources, and the cached, resized loader."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path
from typing import Callable

import numpy as np

from sslexp.errors import InputError


@dataclasses.dataclass(frozen=True)
class RawDataset:
    """Images as a source delivers them (uint8 NHWC); sources that decode files
    resize while decoding, in-memory sources leave resizing to the registry."""

    pool_images: np.ndarray
    pool_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    class_names: tuple[str, ...]
    skipped: int = 0


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A data set resized to one image size: the pool (unlabelled and labelled
    subsets come from it) and the test split, evaluated once per run."""

    name: str
    pool_images: np.ndarray
    pool_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    class_names: tuple[str, ...]
    fingerprint: str
    skipped: int = 0

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.pool_images.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


@dataclasses.dataclass(frozen=True)
class DatasetSource:
    """One entry of the registry."""

    name: str
    source: str
    sizes: str
    load: Callable[[int], RawDataset]
    availability: Callable[[], tuple[bool, str]]
    cache_token: Callable[[], str] = lambda: ""


def _sources(folder: str | None = None) -> dict[str, DatasetSource]:
    from sslexp.data import digits, fashion_mnist, folder as folder_module, tfds_source

    sources = {
        "cats_vs_dogs": tfds_source.cats_vs_dogs_source(),
        "fashion_mnist": fashion_mnist.source(),
        "digits": digits.source(),
    }
    if folder is not None:
        sources[f"folder:{folder}"] = folder_module.source(folder)
    return sources


def available_sources() -> list[DatasetSource]:
    """Every registered source, with ``folder:PATH`` shown as a pattern."""
    from sslexp.data import folder as folder_module

    return [*_sources().values(), folder_module.pattern_source()]


def resolve_source(name: str) -> DatasetSource:
    """The source for ``name``, or an InputError listing what is allowed."""
    if name.startswith("folder:"):
        path = name[len("folder:"):]
        if not path:
            raise InputError("--dataset", name, "folder: needs a path, e.g. folder:/data/my_images")
        return _sources(path)[name]
    sources = _sources()
    if name not in sources:
        allowed = ", ".join([*sources, "folder:PATH"])
        raise InputError("--dataset", name, f"unknown data set. Allowed: {allowed}.")
    return sources[name]


def load_dataset(name: str, image_size: int, cache_dir: str | Path) -> Dataset:
    """Load ``name`` resized to ``image_size`` x ``image_size``.

    Decoded and resized arrays are cached under ``cache_dir`` keyed by data set,
    size and source, so the runs of a sweep decode only once.
    """
    from sslexp.data import cache

    if image_size < 1:
        raise InputError("--image-size", image_size, "must be a positive number of pixels.")
    source = resolve_source(name)
    key = _cache_key(name, image_size, source.cache_token())
    cached = cache.read(Path(cache_dir), key)
    if cached is not None:
        return Dataset(name=name, **cached)
    raw = source.load(image_size)
    _check_usable(name, raw)
    arrays = {
        "pool_images": resize_images(raw.pool_images, image_size),
        "pool_labels": raw.pool_labels.astype(np.int64),
        "test_images": resize_images(raw.test_images, image_size),
        "test_labels": raw.test_labels.astype(np.int64),
    }
    fingerprint = fingerprint_arrays(arrays)
    cache.write(Path(cache_dir), key, arrays, raw.class_names, fingerprint, raw.skipped)
    return Dataset(name=name, class_names=tuple(raw.class_names), fingerprint=fingerprint,
                   skipped=raw.skipped, **arrays)


def dataset_slug(name: str) -> str:
    """A data set name usable in file names (``folder:/data/pets`` -> ``folder_data_pets``)."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", name).strip("_")[-40:]


def _cache_key(name: str, image_size: int, token: str) -> str:
    digest = hashlib.sha256(f"{name}|{image_size}|{token}".encode()).hexdigest()[:12]
    return f"{dataset_slug(name)}-{image_size}px-{digest}"


def _check_usable(name: str, raw: RawDataset) -> None:
    classes_present = np.unique(raw.pool_labels)
    if len(raw.pool_labels) == 0:
        raise InputError("--dataset", name, "the data set has no readable images.")
    if len(classes_present) < 2:
        raise InputError(
            "--dataset", name,
            f"found only {len(classes_present)} class; a classifier needs at least 2 classes "
            "(one sub-directory of images per class).",
        )
    if len(raw.test_labels) == 0:
        raise InputError("--dataset", name, "the test split is empty; add more images per class.")


def resize_images(images: np.ndarray | list[np.ndarray], image_size: int,
                  batch_size: int = 1024) -> np.ndarray:
    """Resize uint8 images (an array, or a list of differently sized images) to a square."""
    import tensorflow as tf

    def resize(batch):
        resized = tf.image.resize(batch, (image_size, image_size), antialias=True)
        return np.clip(np.rint(resized.numpy()), 0, 255).astype(np.uint8)

    if isinstance(images, np.ndarray):
        if images.shape[1:3] == (image_size, image_size):
            return images.astype(np.uint8)
        return np.concatenate(
            [resize(images[i:i + batch_size]) for i in range(0, len(images), batch_size)]
        ) if len(images) else np.zeros((0, image_size, image_size, images.shape[-1]), np.uint8)
    return np.stack([resize(image[None])[0] for image in images])


def fingerprint_arrays(arrays: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for key in sorted(arrays):
        digest.update(key.encode())
        digest.update(str(arrays[key].shape).encode())
        digest.update(np.ascontiguousarray(arrays[key]).tobytes())
    return digest.hexdigest()[:16]
