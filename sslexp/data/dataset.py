"""What a data set is once loaded: a pool and a test split of uint8 images, and the
helpers every source shares (resizing, fingerprints, file-name slugs)."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable

import numpy as np


@dataclasses.dataclass(frozen=True)
class RawDataset:
    """Images as a source delivers them (uint8 NHWC); sources that decode files
    resize while decoding, in-memory sources leave resizing to the registry."""

    pool_images: np.ndarray
    pool_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    class_names: tuple[str, ...]
    skipped_files: tuple[str, ...] = ()  # files that could not be read, relative to the source


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
    skipped_files: tuple[str, ...] = ()  # left out because they could not be read

    @property
    def skipped(self) -> int:
        return len(self.skipped_files)

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
    # (images, channels) as decoded, known before decoding: what memory_needed counts
    extent: Callable[[], tuple[int, int]] | None = None


# Loading holds the source's arrays, the resized ones and the copies training makes.
COPIES_WHILE_LOADING = 3


def memory_needed(images: int, channels: int, image_size: int) -> int:
    """Bytes a data set of ``images`` needs in memory at ``image_size`` (uint8 pixels)."""
    return COPIES_WHILE_LOADING * images * image_size * image_size * channels


RESIZE_BUFFER_BYTES = 256 * 2**20  # float32 working memory of one resizing batch


def resize_images(
    images: np.ndarray | list[np.ndarray], image_size: int, batch_size: int | None = None
) -> np.ndarray:
    """Resize uint8 images (an array, or a list of differently sized images) to a square.

    Bilinear with antialiasing, the filter of ``tf.image.resize(..., antialias=True)``,
    in NumPy: no deep-learning framework is needed to load a data set.
    """
    if isinstance(images, np.ndarray):
        if images.shape[1:3] == (image_size, image_size):
            return images.astype(np.uint8)
        if not len(images):
            return np.zeros((0, image_size, image_size, images.shape[-1]), np.uint8)
        rows = resampling_weights(images.shape[1], image_size)
        columns = resampling_weights(images.shape[2], image_size)
        if batch_size is None:  # bounded working memory whatever the size
            per_image = 4 * image_size * max(image_size, images.shape[2]) * images.shape[-1]
            batch_size = max(1, min(1024, RESIZE_BUFFER_BYTES // per_image))
        return np.concatenate(
            [
                _resample(images[i : i + batch_size], rows, columns)
                for i in range(0, len(images), batch_size)
            ]
        )
    return np.stack([resize_images(np.asarray(image)[None], image_size)[0] for image in images])


def resampling_weights(input_size: int, output_size: int) -> np.ndarray:
    """(output_size, input_size) weights of a triangle filter widened by the
    downscaling factor (antialiasing), each row summing to 1.

    Pixel centres sit at ``i + 0.5``, as in TensorFlow's ``scale_and_translate``.
    """
    inverse_scale = input_size / output_size
    kernel_scale = max(inverse_scale, 1.0)
    sample = (np.arange(output_size) + 0.5) * inverse_scale
    centres = np.arange(input_size) + 0.5
    weights = np.maximum(0.0, 1.0 - np.abs(centres[None, :] - sample[:, None]) / kernel_scale)
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def _resample(images: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """float32 in two steps (rows, then columns): a few bytes per output pixel, never the
    float64 copy of a whole batch."""
    tall = np.einsum("oh,nhwc->nowc", rows, images.astype(np.float32))
    resized = np.einsum("nowc,pw->nopc", tall, columns)
    return np.clip(np.rint(resized), 0, 255).astype(np.uint8)


def fingerprint_arrays(arrays: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for key in sorted(arrays):
        digest.update(key.encode())
        digest.update(str(arrays[key].shape).encode())
        digest.update(np.ascontiguousarray(arrays[key]).tobytes())
    return digest.hexdigest()[:16]
