import numpy as np
import pytest

from sslexp.config import BackboneConfig
from sslexp.errors import InputError
from sslexp.models import (
    apply_finetune_policy,
    build_backbone,
    build_classifier,
    build_pretext_model,
    describe,
    load_backbone,
)

SHAPE = (8, 8, 1)


def tiny_backbone(preprocessing="scale"):
    mean = np.full(SHAPE, 100.0, np.float32)
    return build_backbone(
        SHAPE, BackboneConfig(depth=8, width=4, preprocessing=preprocessing), mean
    )


def test_resnet20_is_the_default_and_has_the_reference_size():
    backbone = build_backbone((32, 32, 1), BackboneConfig())
    assert backbone.name == "backbone"
    assert [backbone.get_layer(f"stage{s}_out").output.shape[-1] for s in (1, 2, 3)] == [16, 32, 64]
    convs = [
        layer
        for layer in backbone.layers
        if layer.name.endswith("_conv") and "shortcut" not in layer.name
    ]
    assert len(convs) == 19  # + the dense head = 20 weighted layers
    assert 260_000 < describe(backbone)["total_params"] < 280_000


def test_pretext_and_classifier_share_one_backbone_builder():
    backbone = tiny_backbone()
    pretext = build_pretext_model(backbone)
    classifier = build_classifier(backbone, num_classes=10)
    assert pretext.output_shape == (None, 4)
    assert classifier.output_shape == (None, 10)
    assert pretext.get_layer("backbone") is classifier.get_layer("backbone")


@pytest.mark.parametrize(
    "policy, expected_trainable_layers",
    [
        ("full", None),
        ("linear", 0),
        ("last:2", 2),
    ],
)
def test_finetune_policies_set_the_trainable_layers(policy, expected_trainable_layers):
    backbone = tiny_backbone()
    weighted = [layer.name for layer in backbone.layers if layer.weights]
    trainable = apply_finetune_policy(backbone, policy)
    model = build_classifier(backbone, 10)
    head_params = 4 * 4 * 10 + 10  # 16 features x 10 classes + biases
    if expected_trainable_layers is None:
        assert trainable == weighted
    else:
        assert trainable == weighted[len(weighted) - expected_trainable_layers :]
    backbone_trainable = sum(int(np.prod(w.shape)) for w in backbone.trainable_weights)
    assert describe(model)["trainable_params"] == backbone_trainable + head_params
    if policy == "linear":
        assert backbone_trainable == 0
    if policy == "last:2":
        assert 0 < backbone_trainable < describe(backbone)["total_params"]


def test_bad_finetune_policy_and_depth_are_rejected():
    with pytest.raises(InputError, match="last:N"):
        apply_finetune_policy(tiny_backbone(), "last:two")
    with pytest.raises(InputError, match="6n\\+2"):
        BackboneConfig(depth=10)


def test_too_small_image_is_rejected():
    with pytest.raises(InputError, match="at least 8"):
        build_backbone((4, 4, 1), BackboneConfig(depth=8, width=4))


@pytest.mark.slow
def test_saved_backbone_keeps_its_preprocessing_and_checks_its_shape(tmp_path):
    backbone = tiny_backbone("pixel-mean")
    images = np.random.default_rng(0).integers(0, 256, (3, *SHAPE)).astype("float32")
    path = tmp_path / "backbone.keras"
    backbone.save(path)
    loaded = load_backbone(path, SHAPE)
    np.testing.assert_allclose(
        loaded.predict(images, verbose=0), backbone.predict(images, verbose=0), rtol=1e-5, atol=1e-6
    )
    with pytest.raises(InputError, match="expects images of shape"):
        load_backbone(path, (16, 16, 1))
    with pytest.raises(InputError, match="no such file"):
        load_backbone(tmp_path / "missing.keras", SHAPE)


def test_pool_pixel_mean_only_for_pixel_mean_preprocessing():
    from sslexp.models import pool_pixel_mean

    pool = np.random.default_rng(0).integers(0, 256, (50, *SHAPE), dtype=np.uint8)
    assert pool_pixel_mean(pool, "scale") is None
    mean = pool_pixel_mean(pool, "pixel-mean")
    assert mean.dtype == np.float32 and mean.shape == SHAPE
    np.testing.assert_allclose(mean, pool.astype(np.float64).mean(axis=0), rtol=1e-6)
