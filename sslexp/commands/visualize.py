"""``sslexp visualize``: filters and activations of the ssl and scratch models,
side by side, plus the pretext model's rotation predictions."""

from __future__ import annotations

from pathlib import Path

import click

from sslexp.commands.common import cache_dir_option, wandb_options
from sslexp.options import Command, config_option, flag, option, user_errors


@click.command(cls=Command)
@config_option
@option(
    "--ssl",
    "ssl_path",
    type=click.Path(exists=True),
    default=None,
    help="ssl run directory (holding model.keras) or a .keras classifier.",
)
@option(
    "--scratch",
    "scratch_path",
    type=click.Path(exists=True),
    default=None,
    help="scratch run directory (holding model.keras) or a .keras classifier.",
)
@option(
    "--pretext",
    "pretext_path",
    type=click.Path(exists=True),
    default=None,
    help="pretrain directory (holding pretext.keras) or a .keras pretext model. "
    "Default: the one behind the --ssl run, when it can be found.",
)
@option(
    "--images",
    "image_count",
    type=click.IntRange(min=1),
    default=8,
    help="How many test images to draw activations for.",
)
@option("--seed", type=int, default=0, help="Seed that picks the test images.")
@option(
    "--npz",
    "npz_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Take the images from this .npz (array test_images or images), not the data set.",
)
@option(
    "--dataset",
    default=None,
    help="Data set whose test split supplies the images. Default: the runs' data set.",
)
@cache_dir_option
@option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default="visualizations",
    help="Directory for the PNGs.",
)
@flag("--wandb", False, "Also log the pictures as wandb.Image to a new W&B run (job visualize).")
@wandb_options
@user_errors
def visualize(
    ssl_path,
    scratch_path,
    pretext_path,
    image_count,
    seed,
    npz_path,
    dataset,
    cache_dir,
    out_dir,
    wandb,
    wandb_mode,
    project,
    entity,
    group,
):
    """Draw first-layer filters and per-stage activation maps of the ssl and scratch
    models side by side, computed from the two checkpoints on the same seeded test
    images, and the pretext model's rotation predictions.

    \b
    Example: sslexp visualize --ssl runs/ssl-0.05-0 --scratch runs/scratch-0.05-0 --out figs
    """
    from sslexp.training.tracking import WandbSettings, start_run
    from sslexp.viz import (
        save_comparison_figures,
        save_pretext_figures,
        save_run_figures,
        select_images,
    )
    from sslexp.viz.models import pretext_checkpoint_for, trained_on

    sources = {name: path for name, path in (("ssl", ssl_path), ("scratch", scratch_path)) if path}
    if pretext_path is None and ssl_path:
        pretext_path = pretext_checkpoint_for(ssl_path)
    if not sources and pretext_path is None:
        raise click.UsageError("Give at least one of --ssl, --scratch or --pretext.")

    models = {name: _load(path, "classifier", f"--{name}") for name, path in sources.items()}
    pretext = _load(pretext_path, "pretext", "--pretext") if pretext_path else None
    reference_model = next(iter(models.values())) if models else pretext
    input_shape = tuple(reference_model.input_shape[1:])

    run_paths = [path for path in (ssl_path, scratch_path, pretext_path) if path]
    images = _test_images(npz_path, dataset, cache_dir, input_shape, trained_on(run_paths))
    images, indices = select_images(images, image_count, seed)

    settings = WandbSettings(wandb_mode if wandb else "disabled", project, entity, group)
    out_dir = Path(out_dir)
    config = {
        "ssl": ssl_path,
        "scratch": scratch_path,
        "pretext": str(pretext_path or ""),
        "images": image_count,
        "seed": seed,
        "image_indices": indices.tolist(),
    }
    written = []
    with start_run(
        settings, job_type="visualize", name=None, config=config, run_dir=out_dir
    ) as wandb_run:
        if models:
            written += save_comparison_figures(
                models, images, out_dir, wandb_run, max_images=image_count
            )
            for name, model in models.items():
                written += save_run_figures(
                    model, images, out_dir / name, max_images=image_count, name=name
                )
        if pretext is not None:
            written += save_pretext_figures(
                pretext, images, out_dir / "pretext", wandb_run, max_images=image_count
            )
    for path in written:
        click.echo(str(path))


def _load(path, kind: str, option_name: str):
    from sslexp.viz import load_model

    try:
        return load_model(path, kind)
    except FileNotFoundError as error:
        raise click.BadParameter(str(error), param_hint=option_name) from error
    except Exception as error:  # keras raises many types for an unreadable archive
        raise click.BadParameter(
            f"{path} is not a readable Keras model ({type(error).__name__}: {error})",
            param_hint=option_name,
        ) from error


def _test_images(npz_path, dataset, cache_dir, input_shape, run_config: dict):
    """The candidate images, from --npz or the data set's test split, checked against the model."""
    from sslexp.viz import load_npz_images

    if npz_path:
        try:
            images = load_npz_images(npz_path)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--npz") from error
        hint = "--npz"
    else:
        dataset = dataset or run_config.get("dataset")
        if not dataset:
            raise click.BadParameter(
                "the runs do not say which data set they used; give --dataset or --npz",
                param_hint="--dataset",
            )
        from sslexp.data import load_dataset

        try:
            images = load_dataset(dataset, int(input_shape[0]), cache_dir).test_images
        except ValueError as error:  # InputError included; DataUnavailableError reaches user_errors
            raise click.BadParameter(
                f"cannot load {dataset!r}: {error}", param_hint="--dataset"
            ) from error
        hint = "--dataset"
    if images.ndim == 3:
        images = images[..., None]
    if tuple(images.shape[1:]) != input_shape:
        raise click.BadParameter(
            f"images are shaped {tuple(images.shape[1:])} but the models expect {input_shape}",
            param_hint=hint,
        )
    return images
