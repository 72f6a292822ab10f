"""Finding and loading the models to draw: run directories, pretrain directories
or .keras files, and the named ``backbone`` inside each model."""

from __future__ import annotations

import re
from pathlib import Path

CHECKPOINT_NAMES = {
    "classifier": ("model.keras",),
    "pretext": ("pretext.keras",),
    "backbone": ("backbone.keras",),
}
STEM_LAYER = "stem_conv"
STAGE_PATTERN = re.compile(r"stage(\d+)_out")


def resolve_checkpoint(path: str | Path, kind: str = "classifier") -> Path:
    """The .keras file for ``path``: the file itself, or the ``kind`` checkpoint in a run dir."""
    path = Path(path)
    if path.is_file():
        return path
    if path.is_dir():
        for name in CHECKPOINT_NAMES[kind]:
            if (path / name).is_file():
                return path / name
        raise FileNotFoundError(
            f"{path} holds no {' or '.join(CHECKPOINT_NAMES[kind])}; give a run directory "
            f"that finished, or the .keras file itself"
        )
    raise FileNotFoundError(f"{path} does not exist; give a run directory or a .keras file")


def load_model(path: str | Path, kind: str = "classifier"):
    """Load a model for drawing (no optimizer state, no compile)."""
    import keras

    return keras.saving.load_model(resolve_checkpoint(path, kind), compile=False)


def find_backbone(model):
    """The backbone inside ``model``, or ``model`` itself when it is a bare backbone."""
    if _has_layer(model, STEM_LAYER):
        return model
    if _has_layer(model, "backbone"):
        return model.get_layer("backbone")
    raise ValueError(
        f"model {model.name!r} has neither a layer named {STEM_LAYER!r} nor a sub-model named "
        f"'backbone'; give a model written by `sslexp train` or `sslexp pretrain`"
    )


def stage_layer_names(backbone) -> list[str]:
    """The residual stages' output layers, in order (``stage1_out``, ``stage2_out``, ...)."""
    stages = []
    for layer in backbone.layers:
        match = STAGE_PATTERN.fullmatch(layer.name)
        if match:
            stages.append((int(match.group(1)), layer.name))
    if not stages:
        raise ValueError(f"backbone {backbone.name!r} has no layers named stage<N>_out")
    return [name for _, name in sorted(stages)]


def _has_layer(model, name: str) -> bool:
    return any(layer.name == name for layer in model.layers)
