"""scikit-learn's 8x8 handwritten digits: shipped with scikit-learn, so always available."""

from __future__ import annotations

import numpy as np

from sslexp.data.dataset import DatasetSource, RawDataset

TEST_FRACTION = 0.2
SPLIT_SEED = 0


def load(image_size: int) -> RawDataset:
    del image_size  # resized by the registry
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    pool_x, test_x, pool_y, test_y = train_test_split(
        images,
        digits.target,
        test_size=TEST_FRACTION,
        stratify=digits.target,
        random_state=SPLIT_SEED,
    )
    return RawDataset(pool_x, pool_y, test_x, test_y, tuple(str(i) for i in range(10)))


def source() -> DatasetSource:
    return DatasetSource(
        name="digits",
        source="scikit-learn load_digits (shipped with scikit-learn)",
        sizes="pool 1,437 / test 360, 8x8x1, 10 classes",
        load=load,
        availability=lambda: (True, "bundled with scikit-learn"),
        extent=lambda: (1797, 1),
    )
