"""Finding and loading the models to draw: run directories (through their records),
pretrain directories or .keras files, and the named ``backbone`` inside each model."""

from __future__ import annotations

from pathlib import Path

from sslexp.models import BACKBONE, STAGE_OUTPUT, STEM_CONV
from sslexp.runs.record import BACKBONE_FILE, MODEL_FILE, PRETEXT_FILE, read_record

CHECKPOINT_NAMES = {
    "classifier": ("model", MODEL_FILE),
    "pretext": ("pretext", PRETEXT_FILE),
    "backbone": ("backbone", BACKBONE_FILE),
}


def resolve_checkpoint(path: str | Path, kind: str = "classifier") -> Path:
    """The .keras file for ``path``: the file itself, or the ``kind`` checkpoint in a run dir."""
    path = Path(path)
    if path.is_file():
        return path
    if path.is_dir():
        role, name = CHECKPOINT_NAMES[kind]
        record = read_record(path)
        found = record.path_of(path, role) if record is not None else None
        if found is None and (path / name).is_file():
            found = path / name
        if found is not None:
            return found
        raise FileNotFoundError(
            f"{path} holds no {name}; give a run directory that finished, or the .keras file itself"
        )
    raise FileNotFoundError(f"{path} does not exist; give a run directory or a .keras file")


def load_model(path: str | Path, kind: str = "classifier"):
    """Load a model for drawing (no optimizer state, no compile)."""
    import keras

    return keras.saving.load_model(resolve_checkpoint(path, kind), compile=False)


def find_backbone(model):
    """The backbone inside ``model``, or ``model`` itself when it is a bare backbone."""
    if _has_layer(model, STEM_CONV):
        return model
    if _has_layer(model, BACKBONE):
        return model.get_layer(BACKBONE)
    raise ValueError(
        f"model {model.name!r} has neither a layer named {STEM_CONV!r} nor a sub-model named "
        f"{BACKBONE!r}; give a model written by `sslexp train` or `sslexp pretrain`"
    )


def stage_layer_names(backbone) -> list[str]:
    """The residual stages' output layers, in order (``stage1_out``, ``stage2_out``, ...)."""
    stages = []
    for layer in backbone.layers:
        match = STAGE_OUTPUT.fullmatch(layer.name)
        if match:
            stages.append((int(match.group(1)), layer.name))
    if not stages:
        raise ValueError(f"backbone {backbone.name!r} has no layers named stage<N>_out")
    return [name for _, name in sorted(stages)]


def _has_layer(model, name: str) -> bool:
    return any(layer.name == name for layer in model.layers)


def pretext_checkpoint_for(path: str | Path) -> Path | None:
    """The pretext model of the pretraining behind an ssl run, when it can be found."""
    path = Path(path)
    record = read_record(path if path.is_dir() else path.parent)
    backbone = record.pretrained_backbone if record is not None else None
    if backbone is None:
        return None
    pretrain = read_record(backbone.parent)
    found = pretrain.path_of(backbone.parent, "pretext") if pretrain is not None else None
    candidate = found or backbone.parent / PRETEXT_FILE
    return candidate if candidate.is_file() else None


def trained_on(paths) -> dict:
    """``dataset`` and ``image_size`` from the first run record that names them."""
    found = {}
    for path in paths:
        path = Path(path)
        record = read_record(path if path.is_dir() else path.parent)
        config = record.config if record is not None else {}
        for key in ("dataset", "image_size"):
            if config.get(key) is not None:
                found.setdefault(key, config[key])
    return found
