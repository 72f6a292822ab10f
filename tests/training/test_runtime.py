"""Runtime set-up: precision policies, learning-rate scaling, compiled models kept for reuse."""

import keras
import numpy as np
import pytest

from sslexp.config import BackboneConfig
from sslexp.models import build_backbone, build_classifier
from sslexp.training import runtime


@pytest.mark.parametrize(
    "precision, device, capability, policy",
    [
        ("float32", "gpu", (9, 0), "float32"),
        ("mixed", "gpu", (9, 0), "mixed_bfloat16"),
        ("mixed", "gpu", (7, 5), "mixed_float16"),
        ("mixed", "tpu", None, "mixed_bfloat16"),
        ("mixed", "cpu", None, "float32"),
    ],
)
def test_mixed_precision_resolves_per_device(monkeypatch, precision, device, capability, policy):
    monkeypatch.setattr(runtime, "gpu_compute_capability", lambda: capability)
    assert runtime.dtype_policy(precision, device) == policy


def test_learning_rate_follows_the_batch_size_by_the_chosen_rule():
    assert runtime.scaled_learning_rate(1e-3, 256, 64, "sqrt") == pytest.approx(2e-3)
    assert runtime.scaled_learning_rate(1e-3, 256, 64, "linear") == pytest.approx(4e-3)
    assert runtime.scaled_learning_rate(1e-3, 256, 64, "none") == 1e-3
    with pytest.raises(ValueError, match="scaling"):
        runtime.scaled_learning_rate(1e-3, 256, 64, "cubic")


def test_configure_reports_what_the_run_ran_on(tmp_path, monkeypatch):
    for name in ("TF_XLA_FLAGS", "XLA_PYTHON_CLIENT_PREALLOCATE", "TF_FORCE_GPU_ALLOW_GROWTH"):
        monkeypatch.delenv(name, raising=False)  # configure sets them; the undo removes them
    ran_on = runtime.configure(0, "mixed", tmp_path)
    assert ran_on.summary() == {
        "backend": keras.backend.backend(),
        "device": "cpu",
        "dtype_policy": "float32",
        "deterministic": False,
    }


def classifier(seed: int, finetune_everything: bool = True):
    keras.utils.set_random_seed(seed)
    backbone = build_backbone((8, 8, 1), BackboneConfig(depth=8, width=4))
    backbone.trainable = finetune_everything
    return build_classifier(backbone, 3)


@pytest.mark.slow
def test_a_kept_model_takes_the_new_models_weights_and_a_fresh_optimizer():
    kept_models = runtime.CompiledModels()
    kept_models.keep(1)
    images = np.random.default_rng(0).integers(0, 256, (8, 8, 8, 1)).astype(np.uint8)
    first = kept_models.compile(
        classifier(0), keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", ["accuracy"]
    )
    first.fit(images, np.arange(8) % 3, epochs=1, verbose=0)
    second_model = classifier(1)
    second = kept_models.compile(
        second_model, keras.optimizers.Adam(5e-4), "sparse_categorical_crossentropy", ["accuracy"]
    )
    assert second is first
    for kept, new in zip(second.get_weights(), second_model.get_weights()):
        assert np.array_equal(kept, new)
    assert int(keras.ops.convert_to_numpy(second.optimizer.iterations)) == 0
    assert float(keras.ops.convert_to_numpy(second.optimizer.learning_rate)) == pytest.approx(5e-4)
    frozen = kept_models.compile(
        classifier(2, finetune_everything=False),
        keras.optimizers.Adam(1e-3),
        "sparse_categorical_crossentropy",
        ["accuracy"],
    )
    assert frozen is not first  # other trainable layers: other traced steps


def test_without_keeping_every_model_compiles_itself():
    model = classifier(0)
    assert (
        runtime.CompiledModels().compile(
            model, keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", []
        )
        is model
    )
    assert model.optimizer is not None
