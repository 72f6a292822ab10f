"""Registry from data set names to sources, and the cached, resized loader."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from sslexp.config import dataset_slug
from sslexp.data import cache, digits, fashion_mnist, folder, tfds
from sslexp.data.dataset import (
    COPIES_WHILE_LOADING,
    Dataset,
    DatasetSource,
    RawDataset,
    fingerprint_arrays,
    memory_needed,
    resize_images,
)
from sslexp.errors import InputError


def _sources(folder_path: str | None = None) -> dict[str, DatasetSource]:
    sources = {
        "cats_vs_dogs": tfds.cats_vs_dogs_source(),
        "fashion_mnist": fashion_mnist.source(),
        "digits": digits.source(),
    }
    if folder_path is not None:
        sources[f"folder:{folder_path}"] = folder.source(folder_path)
    return sources


def available_sources() -> list[DatasetSource]:
    """Every registered source, with ``folder:PATH`` shown as a pattern."""
    return [*_sources().values(), folder.pattern_source()]


def resolve_source(name: str) -> DatasetSource:
    """The source for ``name``, or an InputError listing what is allowed."""
    if name.startswith("folder:"):
        path = name[len("folder:") :]
        if not path:
            raise InputError("dataset", name, "folder: needs a path, e.g. folder:/data/my_images")
        return _sources(path)[name]
    sources = _sources()
    if name not in sources:
        allowed = ", ".join([*sources, "folder:PATH"])
        raise InputError("dataset", name, f"unknown data set. Allowed: {allowed}.")
    return sources[name]


def check_dataset(name: str) -> None:
    """What can be checked of ``name`` without loading it: a known data set, or a folder
    laid out as one sub-directory of images per class (InputError otherwise)."""
    resolve_source(name)
    if name.startswith("folder:"):
        folder.list_images(Path(name[len("folder:") :]).expanduser())


def load_dataset(name: str, image_size: int, cache_dir: str | Path) -> Dataset:
    """Load ``name`` resized to ``image_size`` x ``image_size``.

    Decoded and resized arrays are cached under ``cache_dir`` keyed by data set,
    size and source, so the runs of a sweep decode only once.
    """
    if image_size < 1:
        raise InputError("image_size", image_size, "must be a positive number of pixels.")
    source = resolve_source(name)
    check_memory(source, image_size)
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
    cache.write(Path(cache_dir), key, arrays, raw.class_names, fingerprint, raw.skipped_files)
    return Dataset(
        name=name,
        class_names=tuple(raw.class_names),
        fingerprint=fingerprint,
        skipped_files=tuple(raw.skipped_files),
        **arrays,
    )


def check_memory(source: DatasetSource, image_size: int, available: int | None = None) -> None:
    """Refuse, before decoding anything, a size at which the data set cannot fit in memory."""
    if source.extent is None:
        return
    images, channels = source.extent()
    needed = memory_needed(images, channels, image_size)
    if available is None:
        import psutil

        available = psutil.virtual_memory().available
    if needed > available:
        raise InputError(
            "image_size",
            image_size,
            f"{source.name} at {image_size}x{image_size} needs about {needed / 2**30:.1f} GiB of "
            f"memory ({images:,} images x {image_size}x{image_size} x {channels} channel(s), "
            f"about {COPIES_WHILE_LOADING} copies while loading and training), more than the "
            f"{available / 2**30:.1f} GiB available here. Use a smaller --image-size.",
        )


def _cache_key(name: str, image_size: int, token: str) -> str:
    digest = hashlib.sha256(f"{name}|{image_size}|{token}".encode()).hexdigest()[:12]
    return f"{dataset_slug(name)}-{image_size}px-{digest}"


def _check_usable(name: str, raw: RawDataset) -> None:
    classes_present = np.unique(raw.pool_labels)
    if len(raw.pool_labels) == 0:
        raise InputError("dataset", name, "the data set has no readable images.")
    if len(classes_present) < 2:
        raise InputError(
            "dataset",
            name,
            f"found only {len(classes_present)} class; a classifier needs at least 2 classes "
            "(one sub-directory of images per class).",
        )
    if len(raw.test_labels) == 0:
        raise InputError("dataset", name, "the test split is empty; add more images per class.")
