import numpy as np
import pytest

from sslexp.data.splits import label_split, pretext_split, smallest_fraction
from sslexp.errors import InputError

LABELS = np.repeat(np.arange(5), [100, 80, 60, 40, 20])
np.random.default_rng(0).shuffle(LABELS)


def chosen(split):
    return set(split.train_indices) | set(split.val_indices)


def test_subset_is_stratified():
    split = label_split(LABELS, 0.1, fold=0, folds=5, seed=0, val_fraction=0.2)
    counts = np.bincount(LABELS[sorted(chosen(split))], minlength=5)
    assert counts.tolist() == [10, 8, 6, 4, 2]
    assert list(split.labels_per_class) == [10, 8, 6, 4, 2]


def test_subsets_are_nested_across_fractions_within_a_fold():
    fractions = [0.1, 0.2, 0.4, 1.0]
    subsets = [chosen(label_split(LABELS, p, 1, 5, 0, 0.2)) for p in fractions]
    for smaller, larger in zip(subsets, subsets[1:]):
        assert smaller < larger
    assert subsets[-1] == set(range(len(LABELS)))


def test_split_is_deterministic_and_fingerprinted():
    first = label_split(LABELS, 0.2, 2, 5, 3, 0.2)
    again = label_split(LABELS, 0.2, 2, 5, 3, 0.2)
    assert np.array_equal(first.train_indices, again.train_indices)
    assert np.array_equal(first.val_indices, again.val_indices)
    assert first.fingerprint == again.fingerprint
    other_seed = label_split(LABELS, 0.2, 2, 5, 4, 0.2)
    assert other_seed.fingerprint != first.fingerprint


def test_folds_give_different_and_small_folds_disjoint_subsets():
    subsets = [chosen(label_split(LABELS, 0.1, f, 5, 0, 0.2)) for f in range(5)]
    for i in range(5):
        for j in range(i + 1, 5):
            assert subsets[i] != subsets[j]
            assert not subsets[i] & subsets[j]  # p <= 1/folds: disjoint


def test_every_class_has_train_and_validation_examples():
    split = label_split(LABELS, 0.1, 0, 5, 0, 0.2)
    assert set(LABELS[split.train_indices]) == set(range(5))
    assert set(LABELS[split.val_indices]) == set(range(5))
    assert not set(split.train_indices) & set(split.val_indices)


def test_too_small_fraction_names_the_smallest_allowed():
    with pytest.raises(InputError) as raised:
        label_split(LABELS, 0.05, 0, 5, 0, 0.2)
    allowed = smallest_fraction(np.bincount(LABELS))
    assert raised.value.option == "label_fraction"
    assert str(allowed) in raised.value.problem
    label_split(LABELS, allowed, 0, 5, 0, 0.2)  # the named fraction works


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5])
def test_fraction_outside_unit_interval_is_rejected(fraction):
    with pytest.raises(InputError, match=r"\(0, 1\]"):
        label_split(LABELS, fraction, 0, 5, 0, 0.2)


def test_fold_outside_range_is_rejected():
    with pytest.raises(InputError, match="0..4"):
        label_split(LABELS, 0.2, 5, 5, 0, 0.2)


def test_pretext_split_uses_part_of_the_pool_and_holds_out_validation():
    train, val = pretext_split(1000, 0.5, 0.1, seed=0)
    assert len(train) + len(val) == 500
    assert len(val) == 50
    assert not set(train) & set(val)
    again_train, _ = pretext_split(1000, 0.5, 0.1, seed=0)
    assert np.array_equal(train, again_train)


@pytest.mark.parametrize("folds", [6, 11])
def test_the_tuning_fold_never_labels_an_image_of_an_evaluation_fold(folds):
    from sslexp.tuning import tuning_fold

    labels = np.repeat(np.arange(10), 600)
    np.random.default_rng(1).shuffle(labels)
    # Up to about 1/folds (each class's share of a partition, 54 or 55 of 600 images at 11
    # folds); subsets are nested, so the largest fraction covers every smaller one.
    largest = 0.9 / folds
    tuning = chosen(label_split(labels, largest, tuning_fold(folds), folds, 0, 0.2))
    assert len(tuning) == 10 * round(600 * largest)
    for fold in range(tuning_fold(folds)):
        for fraction in (0.001 * folds, 0.5 / folds, largest):  # train and validation images
            evaluated = chosen(label_split(labels, fraction, fold, folds, 0, 0.2))
            assert not tuning & evaluated, (fold, fraction)
