"""The representation probe and the pretext budget in updates."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from sslexp.config import PretextConfig
from sslexp.training.representation_probe import (
    PROBE_METRIC,
    RepresentationProbe,
    all_rotations,
    knn_accuracy,
    probe_split,
    still_improving,
)


def test_the_probe_slice_is_stratified_halved_and_fixed():
    labels = np.repeat(np.arange(4), 50)
    fit, scored = probe_split(labels, 100, seed=0)
    assert len(fit) == len(scored) == 50 and not set(fit) & set(scored)
    # each class split as evenly as its count allows
    assert np.abs(np.bincount(labels[fit]) - np.bincount(labels[scored])).max() <= 1
    again = probe_split(labels, 100, seed=0)
    assert np.array_equal(fit, again[0]) and np.array_equal(scored, again[1])


def test_knn_accuracy_separates_separable_features_and_not_noise():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 40)
    centres = np.eye(3) * 10
    features = centres[labels] + rng.normal(size=(120, 3))
    assert knn_accuracy(features[::2], labels[::2], features[1::2], labels[1::2]) == 1.0
    noise = rng.normal(size=(120, 3))
    assert knn_accuracy(noise[::2], labels[::2], noise[1::2], labels[1::2]) < 0.7


def test_still_improving_goes_by_the_probe_when_there_is_one():
    rotation_rises = [{"val_accuracy": 0.5, PROBE_METRIC: 0.6},
                      {"val_accuracy": 0.7, PROBE_METRIC: 0.55}]
    assert not still_improving(rotation_rises, "val_accuracy")
    assert still_improving([{"val_accuracy": 0.5}, {"val_accuracy": 0.7}], "val_accuracy")


def test_a_pretext_budget_in_updates_is_the_same_for_every_volume():
    matched = PretextConfig(epochs=3, updates=600)
    for steps_per_pass in (10, 50, 500):  # 3k, 15k, 150k images: the same updates
        assert matched.steps_per_epoch(steps_per_pass) * 3 == 600
    assert PretextConfig(epochs=3).steps_per_epoch(47) == 47
    assert PretextConfig(epochs=3, updates=10).steps_per_epoch(47) == 4  # rounded up: 12


def test_all_rotations_stacks_four_turns():
    images = np.arange(2 * 3 * 3).reshape(2, 3, 3, 1)
    rotated = all_rotations(images)
    assert rotated.shape == (8, 3, 3, 1)
    assert np.array_equal(rotated[2], np.rot90(images[0], 1))


def test_the_probe_adds_its_accuracy_to_the_epoch_logs_and_keeps_batchnorm():
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((4, 4, 1))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.BatchNormalization()(x)
    backbone = keras.Model(inputs, x)
    labels = np.repeat(np.arange(2), 20)
    images = (labels[:, None, None, None] * 100 + np.random.default_rng(1).normal(
        size=(40, 4, 4, 1))).astype("float32")
    bn = backbone.layers[-1]
    before = keras.ops.convert_to_numpy(bn.moving_mean).copy()
    probe = RepresentationProbe(backbone, images, labels, images, seed=0, limit=40)
    logs = {}
    probe.on_epoch_end(0, logs)
    assert logs[PROBE_METRIC] == 1.0
    assert np.array_equal(keras.ops.convert_to_numpy(bn.moving_mean), before)


@pytest.mark.slow
def test_pretraining_logs_the_probe_and_trains_the_updates_it_is_given(tmp_path, data_cache,
                                                                       tiny):
    from sslexp.cli import main

    result = CliRunner().invoke(main, [
        "pretrain", *tiny, "--epochs", "2", "--updates", "6", "--probe-images", "100",
        "--cache-dir", str(data_cache), "--output-dir", str(tmp_path / "p"),
        "--wandb-mode", "disabled"])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "p" / "results.json").read_text())
    assert [set(row) >= {PROBE_METRIC, "val_accuracy"} for row in record["history"]] == [True] * 2
    training = record["training"]
    assert (training["steps_per_epoch"], training["updates"]) == (3, 6)
    assert 0 <= training["best_probe_accuracy"] <= 1
    assert training["still_improving"] == (record["history"][1][PROBE_METRIC]
                                           >= record["history"][0][PROBE_METRIC])
