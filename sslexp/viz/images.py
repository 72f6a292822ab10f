"""Which images the pictures show: a fixed, seeded choice, so reruns and the two
models are compared on exactly the same inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

NPZ_IMAGE_KEYS = ("test_images", "images", "x_test", "x")


def select_images(images: np.ndarray, count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``count`` images drawn without replacement by ``seed``; returns (images, indices)."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(
            f"expected a non-empty array of images shaped (N, H, W, C), got shape {images.shape}"
        )
    if count < 1:
        raise ValueError(f"the number of images must be at least 1, got {count}")
    count = min(count, len(images))
    indices = np.sort(np.random.default_rng(seed).choice(len(images), size=count, replace=False))
    return images[indices], indices


def load_npz_images(path: str | Path) -> np.ndarray:
    """Images from a .npz file, under one of the keys in ``NPZ_IMAGE_KEYS``."""
    path = Path(path)
    with np.load(path) as archive:
        for key in NPZ_IMAGE_KEYS:
            if key in archive:
                return np.asarray(archive[key])
        keys = ", ".join(archive.files) or "none"
    raise ValueError(
        f"{path} holds no images: expected one of the arrays {', '.join(NPZ_IMAGE_KEYS)}, "
        f"found {keys}"
    )


def to_display(image: np.ndarray) -> np.ndarray:
    """An image as matplotlib shows it: (H, W) for one channel, (H, W, 3) uint8 otherwise."""
    image = np.clip(np.asarray(image, dtype=np.float32), 0, 255).astype(np.uint8)
    if image.ndim == 3 and image.shape[-1] == 1:
        return image[..., 0]
    if image.ndim == 3 and image.shape[-1] != 3:
        return image.mean(axis=-1).astype(np.uint8)
    return image
