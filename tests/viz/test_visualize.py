"""Filters, activations and rotation pictures, and the `sslexp visualize` command."""

import io
import time

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from sslexp.cli import main
from sslexp.viz import (
    find_backbone,
    load_npz_images,
    resolve_checkpoint,
    save_comparison_figures,
    save_pretext_figures,
    save_run_figures,
    select_images,
)
from sslexp.viz.features import first_layer_filters, rotate_all, stage_activations
from sslexp.viz.figures import activations_figure, filters_figure
from tests.report import sweep_factory


@pytest.fixture(scope="module")
def models():
    """Two classifiers with different weights and a pretext model."""
    return {
        "ssl": sweep_factory.tiny_classifier(seed=1),
        "scratch": sweep_factory.tiny_classifier(seed=2),
        "pretext": sweep_factory.tiny_pretext(seed=3),
    }


@pytest.fixture(scope="module")
def images():
    return sweep_factory.sample_images(count=6)


def pixels(figure) -> np.ndarray:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=60)
    return np.asarray(Image.open(buffer).convert("RGB"))


def colored_pixels(path) -> int:
    """Pixels of the red-blue difference colormap (grey and white pixels do not count)."""
    rgb = np.asarray(Image.open(path).convert("RGB"), dtype=int)
    return int((np.abs(rgb[..., 0] - rgb[..., 2]) > 60).sum())


def test_run_figures_are_pngs_and_cheap(models, images, tmp_path):
    started = time.perf_counter()
    paths = save_run_figures(models["ssl"], images, tmp_path)
    elapsed = time.perf_counter() - started
    assert [path.name for path in paths] == ["filters.png", "activations.png"]
    for path in paths:
        with Image.open(path) as image:
            assert image.format == "PNG" and image.width > 100
    assert elapsed < 10, f"save_run_figures took {elapsed:.1f} s"


def test_real_resnet8_backbone_is_drawn_quickly(images, tmp_path):
    from sslexp.config import BackboneConfig
    from sslexp.models import build_backbone, build_classifier

    model = build_classifier(build_backbone((16, 16, 1), BackboneConfig(depth=8, width=16)), 10)
    big_images = np.repeat(np.repeat(images, 2, axis=1), 2, axis=2)
    started = time.perf_counter()
    save_run_figures(model, big_images, tmp_path)
    assert time.perf_counter() - started < 10
    assert set(stage_activations(model, big_images[:2])) == {
        "stage1_out",
        "stage2_out",
        "stage3_out",
    }


def test_ssl_and_scratch_pictures_differ_when_weights_differ(models, images):
    ssl_filters = pixels(filters_figure({"model": first_layer_filters(models["ssl"])}))
    scratch_filters = pixels(filters_figure({"model": first_layer_filters(models["scratch"])}))
    again = pixels(filters_figure({"model": first_layer_filters(models["ssl"])}))
    assert ssl_filters.shape == scratch_filters.shape
    assert not np.array_equal(ssl_filters, scratch_filters)
    assert np.array_equal(ssl_filters, again), "the same weights must draw the same picture"

    ssl_maps = pixels(
        activations_figure(images, {"model": stage_activations(models["ssl"], images)})
    )
    scratch_maps = pixels(
        activations_figure(images, {"model": stage_activations(models["scratch"], images)})
    )
    assert np.abs(ssl_maps.astype(int) - scratch_maps.astype(int)).mean() > 1


def test_filter_difference_is_zero_only_for_equal_weights(models):
    from sslexp.viz.features import relative_filter_difference

    assert relative_filter_difference(models["ssl"], models["ssl"]) == 0
    assert relative_filter_difference(models["ssl"], models["scratch"]) > 0.1


def test_models_from_different_starts_get_no_filter_difference_between_them(
    models, images, tmp_path
):
    pair = {"ssl": models["ssl"], "scratch": models["scratch"]}
    shared, _ = save_comparison_figures(pair, images, tmp_path / "shared", shared_start=True)
    apart, _ = save_comparison_figures(pair, images, tmp_path / "apart", shared_start=False)
    assert colored_pixels(shared) > 50 and colored_pixels(apart) == 0
    start = first_layer_filters(models["scratch"]) * 0.5
    moved, _ = save_comparison_figures(
        pair, images, tmp_path / "moved", shared_start=False, initial=("start", start)
    )
    assert colored_pixels(moved) > 50  # scratch - its start: what training moved


def test_every_activation_difference_has_a_colour_bar(models, images):
    activations = {name: stage_activations(model, images[:2]) for name, model in models.items()}
    figure = activations_figure(images[:2], activations, difference=("ssl", "scratch"))
    stages = len(activations["ssl"])
    bars = [axis for axis in figure.axes if axis.get_label() == "<colorbar>"]
    assert len(bars) == stages
    assert all("to +" in bar.get_xlabel() for bar in bars)


@pytest.mark.slow
def test_side_by_side_figures_are_written_and_logged(models, images, tmp_path):
    logged = []

    class FakeRun:
        def log(self, data):
            logged.append(data)

    paths = save_comparison_figures(
        {"ssl": models["ssl"], "scratch": models["scratch"]}, images, tmp_path, wandb_run=FakeRun()
    )
    assert [path.name for path in paths] == [
        "filters_side_by_side.png",
        "activations_side_by_side.png",
    ]
    same = save_comparison_figures(
        {"ssl": models["ssl"], "scratch": models["ssl"]}, images, tmp_path / "same"
    )
    # the ssl - scratch panel shows the difference; equal models leave only the colour bar red
    # and blue, and their activation difference white
    assert colored_pixels(paths[0]) > colored_pixels(same[0]) + 50
    assert colored_pixels(paths[1]) > colored_pixels(same[1]) + 50
    assert all(path.with_suffix(".svg").is_file() for path in [*paths, *same])
    import wandb

    (entry,) = logged
    assert set(entry) == {"figures/filters_side_by_side", "figures/activations_side_by_side"}
    assert all(isinstance(value, wandb.Image) for value in entry.values())


def test_stage_activations_follow_the_stages(models, images):
    maps = stage_activations(models["ssl"], images)
    assert list(maps) == ["stage1_out", "stage2_out", "stage3_out"]
    assert [m.shape[:3] for m in maps.values()] == [(6, 8, 8), (6, 4, 4), (6, 2, 2)]


def test_backbone_is_found_in_classifier_pretext_and_alone(models):
    backbone = find_backbone(models["ssl"])
    assert backbone.name == "backbone"
    assert find_backbone(backbone) is backbone
    assert find_backbone(models["pretext"]).name == "backbone"
    import keras

    inputs = keras.Input((4,))
    unrelated = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    with pytest.raises(ValueError, match="stem_conv"):
        find_backbone(unrelated)


def test_rotations_match_tensorflow_rot90(images):
    import tensorflow as tf

    rotated, labels = rotate_all(images[:2])
    assert list(labels) == [0, 1, 2, 3, 0, 1, 2, 3]
    for k in range(4):
        assert np.array_equal(rotated[k], tf.image.rot90(images[0], k).numpy())


def test_pretext_figures_show_rotation_predictions(models, images, tmp_path):
    paths = save_pretext_figures(models["pretext"], images, tmp_path, max_images=3)
    assert [path.name for path in paths] == ["rotations.png", "filters.png"]
    assert all(path.stat().st_size > 1000 for path in paths)


def test_image_selection_is_seeded_and_checked(images):
    first, first_indices = select_images(images, 3, seed=5)
    second, second_indices = select_images(images, 3, seed=5)
    assert np.array_equal(first, second) and list(first_indices) == list(second_indices)
    assert not np.array_equal(select_images(images, 3, seed=6)[1], first_indices)
    assert select_images(images[..., 0], 2)[0].shape == (2, 8, 8, 1)
    with pytest.raises(ValueError, match="at least 1"):
        select_images(images, 0)


def test_npz_and_checkpoint_paths_give_clear_errors(tmp_path):
    np.savez(tmp_path / "other.npz", labels=np.arange(3))
    with pytest.raises(ValueError, match="test_images"):
        load_npz_images(tmp_path / "other.npz")
    with pytest.raises(FileNotFoundError, match="model.keras"):
        resolve_checkpoint(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_checkpoint(tmp_path / "nope")


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory, models):
    root = tmp_path_factory.mktemp("runs")
    for name in ("ssl", "scratch"):
        (root / name).mkdir()
        models[name].save(root / name / "model.keras")
    models["pretext"].save(root / "pretext.keras")
    np.savez(root / "images.npz", test_images=sweep_factory.sample_images(count=10))
    return root


@pytest.mark.slow
def test_visualize_command_draws_both_checkpoints_side_by_side(run_dirs, tmp_path):
    out = tmp_path / "figures"
    result = CliRunner().invoke(
        main,
        [
            "visualize",
            "--ssl",
            str(run_dirs / "ssl"),
            "--scratch",
            str(run_dirs / "scratch"),
            "--pretext",
            str(run_dirs / "pretext.keras"),
            "--npz",
            str(run_dirs / "images.npz"),
            "--images",
            "3",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    for name in (
        "filters_side_by_side.png",
        "activations_side_by_side.png",
        "ssl/filters.png",
        "scratch/activations.png",
        "pretext/rotations.png",
    ):
        assert (out / name).is_file(), name
    assert str(out / "filters_side_by_side.png") in result.output


def test_visualize_command_rejects_bad_input_with_status_2(run_dirs, tmp_path):
    runner = CliRunner()
    nothing = runner.invoke(main, ["visualize", "--out", str(tmp_path)])
    assert nothing.exit_code == 2 and "--ssl" in nothing.output
    empty = tmp_path / "empty-run"
    empty.mkdir()
    no_model = runner.invoke(main, ["visualize", "--ssl", str(empty), "--out", str(tmp_path)])
    assert no_model.exit_code == 2 and "model.keras" in no_model.output
    np.savez(tmp_path / "wrong.npz", images=np.zeros((4, 5, 5, 1), np.uint8))
    wrong_shape = runner.invoke(
        main,
        [
            "visualize",
            "--ssl",
            str(run_dirs / "ssl"),
            "--npz",
            str(tmp_path / "wrong.npz"),
            "--out",
            str(tmp_path),
        ],
    )
    assert wrong_shape.exit_code == 2 and "expect" in wrong_shape.output
