"""BatchNorm statistics recomputed from the training images, and what that fixes."""

import numpy as np
import pytest


def one_batchnorm_model(frozen: bool = False):
    import keras

    inputs = keras.Input(shape=(3,))
    normalised = keras.layers.BatchNormalization(name="bn")(inputs)
    model = keras.Model(inputs, normalised)
    model.get_layer("bn").trainable = not frozen
    return model


def test_recalibration_is_the_plain_average_over_the_images():
    from sslexp.training.batchnorm import recalibrate

    images = np.random.default_rng(0).normal(5.0, 2.0, size=(50, 3)).astype("float32")
    model = one_batchnorm_model()
    done = recalibrate(model, images, batch_size=32)  # batches of 32 and 18, weighted by size
    layer = model.get_layer("bn")
    batches = [images[:32], images[32:]]
    expected_mean = (32 * batches[0].mean(0) + 18 * batches[1].mean(0)) / 50
    expected_variance = (32 * batches[0].var(0) + 18 * batches[1].var(0)) / 50
    assert np.allclose(layer.moving_mean.numpy(), expected_mean, atol=1e-5)
    assert np.allclose(layer.moving_variance.numpy(), expected_variance, atol=1e-4)
    assert layer.momentum == pytest.approx(0.99)  # put back
    assert done == {"layers": 1, "images": 50, "batches": 2}


def test_layers_frozen_by_the_finetune_policy_keep_their_statistics():
    from sslexp.training.batchnorm import recalibrate

    model = one_batchnorm_model(frozen=True)
    done = recalibrate(model, np.ones((8, 3), dtype="float32") * 7, batch_size=4)
    assert done["layers"] == 0
    assert np.allclose(model.get_layer("bn").moving_mean.numpy(), 0)


def batch_statistics_accuracy(model, images, labels, batch_size: int) -> float:
    """Each test batch normalised by its own statistics (moving statistics unused)."""
    import keras

    saved = model.get_weights()
    predictions = [
        keras.ops.convert_to_numpy(
            model(images[start : start + batch_size].astype("float32"), training=True)
        )
        for start in range(0, len(images), batch_size)
    ]
    model.set_weights(saved)
    return float((np.concatenate(predictions).argmax(1) == labels).mean())


@pytest.mark.slow
def test_a_short_scratch_run_no_longer_collapses_below_its_batch_statistics(tmp_path, data_cache):
    """100 updates leave Keras' moving statistics far from the weights' own (measured here:
    66% test accuracy with them, 77% with batch statistics, 79% recalibrated)."""
    import keras

    from sslexp.config import BackboneConfig, TrainConfig
    from sslexp.data import load_dataset
    from sslexp.runs.record import MODEL_FILE
    from sslexp.training.tracking import WandbSettings
    from sslexp.training.train import run_training

    config = TrainConfig(
        dataset="digits",
        image_size=8,
        backbone=BackboneConfig(depth=8, width=4),
        method="scratch",
        label_fraction=0.2,
        budget="matched",
        max_updates=100,
        lr=0.003,
    )
    record = run_training(
        config, tmp_path / "run", data_cache, tmp_path / "backbones", WandbSettings(mode="disabled")
    )
    data = load_dataset("digits", 8, data_cache)
    model = keras.saving.load_model(tmp_path / "run" / MODEL_FILE, compile=False)
    batch = batch_statistics_accuracy(model, data.test_images, data.test_labels, 32)
    recalibrated = record.test["accuracy"]
    without = record.test["without_recalibration"]["accuracy"]
    assert recalibrated >= batch - 0.02, (recalibrated, batch, without)
    assert without < recalibrated  # what the recalibration fixes
    assert record.training["batchnorm"]["images"] == record.split["n_train"]
