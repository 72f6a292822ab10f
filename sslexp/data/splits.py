"""Label subsets: stratified, nested across label fractions, different per fold.

For fold ``f`` every class's pool indices are ordered with that class's share of
``StratifiedKFold`` partition ``f`` first, then the rest, each part shuffled by
the seed. The subset for label fraction ``p`` takes the first ``round(p * n_c)``
indices of each class, so subsets are stratified, nested (2% inside 4%), and
for ``p <= 1 / folds`` the folds draw disjoint labelled examples.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math

import numpy as np

from sslexp.errors import InputError

MIN_PER_CLASS = 2  # one to train on and one to validate on
MIN_PER_CLASS_WITHOUT_VALIDATION = 1


@dataclasses.dataclass(frozen=True)
class LabelSplit:
    train_indices: np.ndarray
    val_indices: np.ndarray
    labels_per_class: tuple[int, ...]
    fingerprint: str
    val_per_class: tuple[int, ...] = ()

    @property
    def n_labels(self) -> int:
        return len(self.train_indices) + len(self.val_indices)

    def summary(self) -> dict:
        return {
            "fingerprint": self.fingerprint,
            "n_train": int(len(self.train_indices)),
            "n_val": int(len(self.val_indices)),
            "n_labels": int(self.n_labels),
            "labels_per_class": list(self.labels_per_class),
            "val_per_class": list(self.val_per_class),
        }


def fold_order(labels: np.ndarray, fold: int, folds: int, seed: int) -> list[np.ndarray]:
    """Per class, the pool indices in the order in which fold ``fold`` labels them."""
    from sklearn.model_selection import StratifiedKFold

    if not 0 <= fold < folds:
        raise InputError("fold", fold, f"must be in 0..{folds - 1} (there are {folds} folds).")
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    home = next(
        part
        for i, (_, part) in enumerate(splitter.split(np.zeros(len(labels)), labels))
        if i == fold
    )
    in_home = np.zeros(len(labels), dtype=bool)
    in_home[home] = True
    rng = np.random.default_rng([seed, fold])
    orders = []
    for label in range(int(labels.max()) + 1):
        members = np.flatnonzero(labels == label)
        first = rng.permutation(members[in_home[members]])
        rest = rng.permutation(members[~in_home[members]])
        orders.append(np.concatenate([first, rest]))
    return orders


def smallest_fraction(class_counts: np.ndarray, per_class: int = MIN_PER_CLASS) -> float:
    """The smallest label fraction giving every class at least ``per_class`` examples."""
    needed = max((per_class - 0.5) / count for count in class_counts if count > 0)
    return math.ceil(needed * 1e4) / 1e4


def per_class_counts(class_counts: np.ndarray, label_fraction: float) -> np.ndarray:
    return np.floor(label_fraction * class_counts + 0.5).astype(int)


def label_split(
    labels: np.ndarray,
    label_fraction: float,
    fold: int,
    folds: int,
    seed: int,
    val_fraction: float,
    with_validation: bool = True,
) -> LabelSplit:
    """The labelled subset for (label fraction, fold, seed), split into train and validation.

    Without validation (``select: last``) every labelled example trains and the
    validation part is empty; the subset itself is the same either way.
    """
    if not 0 < label_fraction <= 1:
        raise InputError(
            "label_fraction",
            label_fraction,
            "must be in (0, 1]: the fraction of the pool whose labels are used.",
        )
    if with_validation and not 0 < val_fraction < 1:
        raise InputError(
            "val_fraction",
            val_fraction,
            "must be in (0, 1): the share of the labelled subset kept for validation.",
        )
    if folds < 2:
        raise InputError("folds", folds, "must be at least 2.")
    labels = np.asarray(labels)
    class_counts = np.bincount(labels)
    counts = per_class_counts(class_counts, label_fraction)
    needed = MIN_PER_CLASS if with_validation else MIN_PER_CLASS_WITHOUT_VALIDATION
    if counts.min() < needed:
        why = "one to train, one to validate" if with_validation else "one to train"
        raise InputError(
            "label_fraction",
            label_fraction,
            f"gives some class fewer than {needed} labelled example(s) ({why}). The smallest "
            f"allowed fraction for this pool is {smallest_fraction(class_counts, needed)}.",
        )
    orders = fold_order(labels, fold, folds, seed)
    train, val = [], []
    for order, count in zip(orders, counts):
        chosen = order[:count]
        n_val = min(count - 1, max(1, int(round(val_fraction * count)))) if with_validation else 0
        val.append(chosen[count - n_val :])
        train.append(chosen[: count - n_val])
    train_indices = np.sort(np.concatenate(train))
    val_indices = np.sort(np.concatenate(val)).astype(train_indices.dtype)
    return LabelSplit(
        train_indices,
        val_indices,
        tuple(int(c) for c in counts),
        fingerprint_indices(train_indices, val_indices),
        tuple(int(len(part)) for part in val),
    )


def fingerprint_indices(train_indices: np.ndarray, val_indices: np.ndarray) -> str:
    digest = hashlib.sha256()
    digest.update(np.asarray(train_indices, dtype=np.int64).tobytes())
    digest.update(b"|")
    digest.update(np.asarray(val_indices, dtype=np.int64).tobytes())
    return digest.hexdigest()[:16]


def pretext_split(
    num_images: int, unlabeled_fraction: float, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pool indices for pretext training and for its rotation-accuracy validation."""
    if not 0 < unlabeled_fraction <= 1:
        raise InputError(
            "pretext.unlabeled_fraction",
            unlabeled_fraction,
            "must be in (0, 1]: the share of the pool used for pretraining.",
        )
    if not 0 < val_fraction < 1:
        raise InputError("pretext.val_fraction", val_fraction, "must be in (0, 1).")
    order = np.random.default_rng([seed, 7919]).permutation(num_images)
    chosen = order[: max(2, int(round(unlabeled_fraction * num_images)))]
    n_val = max(1, int(round(val_fraction * len(chosen))))
    return np.sort(chosen[n_val:]), np.sort(chosen[:n_val])
