"""Every option of pretraining and training, declared once.

Each field carries its default, type, range and help text. The command line
(``sslexp.options``) is generated from these classes, so are the W&B config
keys and the ``SSLEXP_*`` variables; sweep YAMLs and ``--config`` files use the
same names. A record stores the config it ran with, so a run is self-describing.

Nested sections: ``backbone`` fields appear without a prefix (``--depth``), the
pretext task's fields appear in ``train`` as ``--pretext-<field>`` (in
``pretrain`` they are the command's own options, ``--epochs``).
"""

from __future__ import annotations

import dataclasses
import decimal
import hashlib
import json
import math
import re
import types
import typing
from collections.abc import Iterator, Mapping
from typing import NamedTuple

from sslexp.errors import InputError

MIN_IMAGE_SIZE = 8  # two stride-2 stages need at least 8 pixels to keep a 2x2 map
MAX_IMAGE_SIZE = 2048  # the data set's memory at the size is checked too (sslexp.data)
MAX_UPDATES = 10**8  # about 3 years of updates at 1 ms each: a larger count is a typo
MAX_EPOCHS = 10**5
MAX_BATCH = 2**16
MAX_WIDTH = 1024
PREPROCESSING = ("scale", "pixel-mean")
ROTATION_MODES = ("all", "random")
METHODS = ("ssl", "scratch")
BUDGETS = ("converged", "matched")
SELECTIONS = ("best", "last")
SEED_RULES = ("shared", "per-fold")
AUTO_EVAL_EVERY = (50, 250)  # updates between validations when eval_every is 0
PRECISIONS = ("float32", "mixed")
LR_SCALING_RULES = ("none", "sqrt", "linear")
FINETUNE_HELP = (
    "full: every layer trains; linear: frozen backbone, only the head trains; "
    "last:N: only the last N weighted backbone layers (conv/BN) and the head train"
)


def setting(
    default,
    help: str,
    *,
    choices: tuple | None = None,
    min: float | None = None,
    max: float | None = None,
    min_open: bool = False,
    max_open: bool = False,
    check=None,
    metavar: str | None = None,
):
    """A config field: its default, help text and the values it accepts."""
    return dataclasses.field(
        default=default,
        metadata={
            "help": help,
            "choices": choices,
            "min": min,
            "max": max,
            "min_open": min_open,
            "max_open": max_open,
            "check": check,
            "metavar": metavar,
        },
    )


def section(factory, prefix: str):
    """A nested config whose fields the command line shows as ``--<prefix><field>``."""
    return dataclasses.field(default_factory=factory, metadata={"section": prefix})


def is_section(field: dataclasses.Field) -> bool:
    return "section" in field.metadata


def field_types(cls) -> dict[str, type]:
    """Field name -> its plain type (``int | None`` gives int)."""
    plain = {}
    for name, hint in typing.get_type_hints(cls).items():
        if typing.get_origin(hint) in (typing.Union, types.UnionType):
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        plain[name] = hint
    return plain


class Config:
    """Checks and normalises every field on construction (numbers by type, ranges, choices).

    A wrong value raises InputError naming the field; the CLI turns the field
    into the option the user typed.
    """

    def __post_init__(self):
        types = field_types(type(self))
        for field in dataclasses.fields(self):
            if is_section(field):
                continue
            value = _coerce(field.name, getattr(self, field.name), types[field.name])
            object.__setattr__(self, field.name, value)
            _check(field, value)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def flat_names(cls, prefixes: dict[str, str] | None = None) -> set[str]:
        """The flat option names of every leaf field (``pretext_epochs``)."""
        return {item.name for item in flat_fields(cls, prefixes)}

    @classmethod
    def from_flat(cls, values: Mapping, prefixes: dict[str, str] | None = None):
        """The config from flat option values (a sweep point, a W&B config, the CLI's
        values); other names are ignored, missing ones take their defaults."""
        names = cls.flat_names(prefixes)
        return build(cls, {k: v for k, v in values.items() if k in names}, prefixes)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


def _coerce(name: str, value, wanted: type):
    """YAML, environment and JSON hand numbers over loosely: 1 for 1.0, "0.05" for 0.05."""
    if value is None or wanted not in (int, float, bool):
        return value
    if wanted is bool:
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        if isinstance(value, (bool, int)):
            return bool(value)
        raise InputError(name, value, "must be true or false.")
    if wanted is int:
        return _whole_number(name, value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(name, value, f"must be a number ({wanted.__name__}).") from None
    if not math.isfinite(number):
        raise InputError(name, value, "must be a finite number.")
    return number


def _whole_number(name: str, value) -> int:
    """An int from an int, a whole float or text ("5000", "1e3"), exactly: no float round
    trip, so 1e26 stays 1e26 for the range check instead of becoming another number."""
    if isinstance(value, int):
        return value
    try:
        number = decimal.Decimal(str(value).strip().replace("_", ""))
    except (decimal.InvalidOperation, TypeError, ValueError):
        raise InputError(name, value, "must be a whole number.") from None
    if not number.is_finite() or number != number.to_integral_value():
        raise InputError(name, value, "must be a whole number.")
    return int(number)


def _check(field: dataclasses.Field, value) -> None:
    meta = field.metadata
    if value is None:
        return
    if meta.get("choices") and value not in meta["choices"]:
        raise InputError(field.name, value, f"allowed: {', '.join(map(str, meta['choices']))}.")
    low, high = meta.get("min"), meta.get("max")
    too_low = low is not None and (value <= low if meta.get("min_open") else value < low)
    too_high = high is not None and (value >= high if meta.get("max_open") else value > high)
    if too_low or too_high:
        raise InputError(field.name, value, f"must be in {describe_range(meta)}.")
    if meta.get("check"):
        meta["check"](field.name, value)


def describe_range(meta) -> str:
    low, high = meta.get("min"), meta.get("max")
    if high is None:
        return f"{'>' if meta.get('min_open') else '>='} {low:g}" if low is not None else "any"
    left = "(" if meta.get("min_open") else "["
    right = ")" if meta.get("max_open") else "]"
    shown = f"{high:,}" if isinstance(high, int) else f"{high:g}"
    return f"{left}{low:g}, {shown}{right}"


def _check_depth(name: str, depth: int) -> None:
    if depth < 8 or (depth - 2) % 6:
        raise InputError(
            name, depth, "ResNet v1 depth must be 6n+2 with n >= 1: 8, 14, 20, 32, 44, 56..."
        )


def _check_image_size(name: str, size: int) -> None:
    if size < MIN_IMAGE_SIZE:
        raise InputError(
            name,
            size,
            f"the ResNet backbone downsamples by 4; use at least {MIN_IMAGE_SIZE} pixels.",
        )


def parse_finetune(policy: str) -> tuple[str, int | None]:
    """``full`` / ``linear`` / ``last:N`` -> (kind, N)."""
    if policy in ("full", "linear"):
        return policy, None
    match = re.fullmatch(r"last:(\d+)", str(policy))
    if match and int(match.group(1)) >= 1:
        return "last", int(match.group(1))
    raise InputError(
        "finetune", policy, f"allowed: full, linear, last:N with N >= 1 ({FINETUNE_HELP})."
    )


def _check_finetune(name: str, policy: str) -> None:
    try:
        parse_finetune(policy)
    except InputError as error:
        raise InputError(name, policy, error.problem) from None


def dataset_field():
    return setting(
        "digits", "digits, fashion_mnist, cats_vs_dogs or folder:PATH (see `sslexp datasets`)."
    )


def precision_field():
    return setting(
        "float32",
        "float32, or mixed: bfloat16 (float16 on GPUs older than compute capability "
        "8.0) compute with float32 variables and softmax outputs, on GPUs and TPUs. "
        "On a CPU mixed runs in float32, where reduced precision was slower (figures: "
        "README, Sweeps).",
        choices=PRECISIONS,
    )


def image_size_field():
    return setting(
        32,
        f"Images are resized to SIZE x SIZE pixels ({MIN_IMAGE_SIZE} to {MAX_IMAGE_SIZE}).",
        min=MIN_IMAGE_SIZE,
        max=MAX_IMAGE_SIZE,
        check=_check_image_size,
    )


@dataclasses.dataclass(frozen=True)
class BackboneConfig(Config):
    """The ResNet v1 shared by pretext, ssl and scratch: the comparison is fair by construction."""

    depth: int = setting(20, "ResNet v1 depth, 6n+2 (8, 14, 20, 32...).", check=_check_depth)
    width: int = setting(
        16, "Filters of the first stage (the stages have 1x, 2x, 4x).", min=1, max=MAX_WIDTH
    )
    preprocessing: str = setting(
        "scale",
        "scale: pixels/255; pixel-mean: also subtract the pool's per-pixel mean.",
        choices=PREPROCESSING,
    )

    @property
    def blocks_per_stage(self) -> int:
        return (self.depth - 2) // 6


@dataclasses.dataclass(frozen=True)
class PretextConfig(Config):
    """The RotNet task's own settings (data set, size and backbone come from the run)."""

    rotations: str = setting(
        "all",
        "all: every batch holds all 4 rotations of each image (RotNet); random: one "
        "random rotation per image per epoch (the reference variant).",
        choices=ROTATION_MODES,
    )
    unlabeled_fraction: float = setting(
        1.0,
        "Share of the pool used for pretraining (how much unlabelled data is needed?).",
        min=0,
        max=1,
        min_open=True,
    )
    val_fraction: float = setting(
        0.1,
        "Share of the pretext images held out to select the epoch by rotation accuracy.",
        min=0,
        max=1,
        min_open=True,
        max_open=True,
    )
    epochs: int = setting(15, "Pretext epochs.", min=1, max=MAX_EPOCHS)
    updates: int = setting(
        0,
        "Pretext optimizer updates in all; 0: --epochs passes over the pretext images. Set "
        "it to give every unlabelled volume the same pretraining compute: the run then "
        "validates --epochs times, updates/epochs (rounded up) apart.",
        min=0,
        max=MAX_UPDATES,
    )
    probe_images: int = setting(
        1000,
        "Labelled images of the held-out pretext slice (never test) for the k-NN probe "
        "of the backbone's features after every epoch: half fit, half scored. 0: none.",
        min=0,
    )
    batch_size: int = setting(
        64, "Source images per batch (x4 samples with rotations all).", min=1, max=MAX_BATCH
    )
    lr: float = setting(
        1e-3,
        "Adam learning rate (at lr_reference_batch when lr_scaling is not none).",
        min=0,
        min_open=True,
    )
    lr_scaling: str = setting(
        "none",
        "How the learning rate follows the batch size: sqrt: lr x sqrt(batch_size / "
        "lr_reference_batch) (the rule for Adam); linear: lr x batch_size / "
        "lr_reference_batch; none: lr as given. Lets a GPU run use large batches.",
        choices=LR_SCALING_RULES,
    )
    lr_reference_batch: int = setting(
        64,
        "The batch size (source images) lr is meant for when lr_scaling is sqrt or linear.",
        min=1,
        max=MAX_BATCH,
    )
    seed: int = setting(0, "Seed for the data order, initialisation and held-out slice.")

    def steps_per_epoch(self, steps_per_pass: int) -> int:
        """Updates per pretext epoch: one pass over the pretext images, or ``updates`` spread
        over the epochs (rounded up), the same at every unlabelled volume."""
        return -(-self.updates // self.epochs) if self.updates else steps_per_pass


@dataclasses.dataclass(frozen=True)
class PretrainConfig(Config):
    """Everything that determines a pretrained backbone, and so its cache key."""

    dataset: str = dataset_field()
    image_size: int = image_size_field()
    backbone: BackboneConfig = section(BackboneConfig, "")
    precision: str = precision_field()
    pretext: PretextConfig = section(PretextConfig, "pretext_")

    def key(self) -> str:
        return config_hash(self.as_dict())

    def directory_name(self) -> str:
        b = self.backbone
        return (
            f"{dataset_slug(self.dataset)}-{self.image_size}px-resnet{b.depth}w{b.width}"
            f"-{self.key()}"
        )


@dataclasses.dataclass(frozen=True)
class TrainConfig(Config):
    """One downstream run: (label fraction, method, fold) and how it trains."""

    dataset: str = dataset_field()
    image_size: int = image_size_field()
    backbone: BackboneConfig = section(BackboneConfig, "")
    method: str = setting(
        "ssl",
        "ssl: start from the pretrained backbone and fine-tune; "
        "scratch: same architecture, random init, same budget.",
        choices=METHODS,
    )
    label_fraction: float = setting(
        0.1, "Share of the pool whose labels are used, in (0, 1].", min=0, max=1, min_open=True
    )
    fold: int = setting(
        0, "Which labelled subset (0..folds-1); different folds give different subsets.", min=0
    )
    folds: int = setting(5, "Number of folds of the pool.", min=2)
    seed: int = setting(
        0, "Seed for the labelled subsets (and init and data order: see --init-seeds)."
    )
    pretrained: str = setting(
        "auto",
        "ssl only. auto: the backbone pretrained with the --pretext-* options "
        "(pretrained once on first use, then cached); a path to backbone.keras; or a "
        "W&B artifact reference (entity/project/name:alias, online).",
    )
    finetune: str = setting(
        "full", f"ssl fine-tune policy. {FINETUNE_HELP}.", check=_check_finetune
    )
    budget: str = setting(
        "converged",
        "converged: train until the validation loss has not improved for "
        "--patience updates, at most --max-updates; matched: exactly --max-updates "
        "updates (the same for both methods at every label fraction).",
        choices=BUDGETS,
    )
    max_updates: int = setting(
        5000,
        "Optimizer updates: the cap for a converged budget, the exact number for a matched one.",
        min=1,
        max=MAX_UPDATES,
    )
    patience: int = setting(
        1000,
        "converged only: stop after this many updates without a better validation loss.",
        min=1,
        max=MAX_UPDATES,
    )
    eval_every: int = setting(
        0,
        f"Updates between validations (one Keras epoch; small labelled subsets repeat "
        f"within it). 0: one pass over the training images, clipped to "
        f"[{AUTO_EVAL_EVERY[0]}, {AUTO_EVAL_EVERY[1]}].",
        min=0,
        max=MAX_UPDATES,
    )
    select: str = setting(
        "best",
        "best: keep the weights of the best validation loss; last: no validation split "
        "(every label trains), keep the final weights of a matched budget.",
        choices=SELECTIONS,
    )
    batch_size: int = setting(32, "Batch size.", min=1, max=MAX_BATCH)
    lr: float = setting(1e-3, "Adam learning rate.", min=0, min_open=True)
    weight_decay: float = setting(
        0.0,
        "Decoupled weight decay of Adam (AdamW's rule): each update shrinks the weights "
        "by lr x weight_decay of themselves; 0: none.",
        min=0,
        max=1,
    )
    augment: bool = setting(
        False,
        "Augment training batches: random translation by up to 10% of the size and "
        "horizontal flip (Keras preprocessing layers; never rotation, the pretext's "
        "label). Off by default so that an untuned run is the plain protocol; the "
        "tuning sweeps choose it per method (--tuned).",
    )
    tuned: str | None = setting(
        None,
        "A winners file written by `sslexp sweep tune-winners`: this run's method takes "
        "its lr, augment and weight_decay from it (overriding those options); the record "
        "keeps both the file and the values used.",
        metavar="FILE",
    )
    precision: str = precision_field()
    val_fraction: float = setting(
        0.2,
        "Share of the labelled subset used to select the epoch (at least 1 per class; "
        "unused with --select last).",
        min=0,
        max=1,
        min_open=True,
        max_open=True,
    )
    init_seeds: str = setting(
        "per-fold",
        "per-fold: initialisation and data order come from a seed derived from "
        "(seed, fold); shared: every fold uses --seed. Labelled subsets always come "
        "from --seed.",
        choices=SEED_RULES,
    )
    pretext_seeds: str = setting(
        "shared",
        "ssl with --pretrained auto. shared: one backbone for every fold (pretext seed "
        "--pretext-seed); per-fold: one backbone per fold, its pretext seed derived "
        "from (--pretext-seed, fold), so intervals include pretraining variance.",
        choices=SEED_RULES,
    )
    pretext: PretextConfig = section(PretextConfig, "pretext_")

    @property
    def effective_finetune(self) -> str:
        """Scratch trains everything: same architecture, random init, same budget."""
        return self.finetune if self.method == "ssl" else "full"

    def __post_init__(self):
        super().__post_init__()
        if self.select == "last" and self.budget != "matched":
            raise InputError(
                "select",
                self.select,
                "needs --budget matched: without a validation split nothing can "
                "tell when training has converged, so the run trains exactly "
                "--max-updates updates.",
            )

    @property
    def run_seed(self) -> int:
        """Seeds initialisation and data order: per fold by default, so folds vary in both."""
        return derived_seed(self.seed, self.fold) if self.init_seeds == "per-fold" else self.seed

    def pretrain_config(self) -> PretrainConfig:
        """The backbone ``--pretrained auto`` pretrains or finds for this run (one per fold with
        ``pretext_seeds: per-fold``, whose cache keys then differ by their seed)."""
        pretext = self.pretext
        if self.pretext_seeds == "per-fold":
            pretext = pretext.replace(seed=derived_seed(pretext.seed, self.fold))
        return PretrainConfig(
            dataset=self.dataset,
            image_size=self.image_size,
            backbone=self.backbone,
            precision=self.precision,
            pretext=pretext,
        )

    def short_name(self) -> str:
        """What tells this run from its neighbours in a sweep: ``ssl-p0.05-fold0``."""
        name = f"{self.method}-p{self.label_fraction:g}-fold{self.fold}"
        if self.pretext.unlabeled_fraction != 1.0 and self.method == "ssl":
            name += f"-u{self.pretext.unlabeled_fraction:g}"
        if self.seed:
            name += f"-seed{self.seed}"
        return name

    def default_run_name(self) -> str:
        """The short name, the data set and a hash of everything else, so that runs with
        other settings never land in the same default directory."""
        return f"{dataset_slug(self.dataset)}-{self.short_name()}-{config_hash(self.as_dict())[:6]}"


def dataset_slug(name: str) -> str:
    """A data set name usable in file names; a folder by its own name, not its absolute path
    (``folder:/data/shared/pets`` -> ``folder_pets``): the config hash beside it in run and
    backbone names tells two folders of one name apart."""
    if name.startswith("folder:"):
        path = name[len("folder:") :].rstrip("/\\")
        name = "folder:" + (re.split(r"[/\\]", path)[-1] or path)
    return re.sub(r"[^A-Za-z0-9.-]+", "_", name).strip("_")[-40:]


def derived_seed(seed: int, fold: int) -> int:
    """A seed for (seed, fold): unrelated across folds and seeds, reproducible everywhere."""
    digest = hashlib.sha256(f"sslexp-seed:{seed}:{fold}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 2**31


def config_hash(values: dict) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:10]


class FlatField(NamedTuple):
    """A leaf field of a config class, with the names it goes by."""

    owner: type  # the (section) class that declares it
    field: dataclasses.Field
    dotted: str  # its path in the nested config: ``pretext.epochs``
    name: str  # its flat option name: ``pretext_epochs``


def flat_fields(
    cls, prefixes: dict[str, str] | None = None, path: str = "", prefix: str = ""
) -> Iterator[FlatField]:
    """Every leaf field of ``cls``, sections flattened.

    ``prefixes`` overrides a section's prefix by its path (``{"pretext": ""}``).
    """
    prefixes = prefixes or {}
    for field in dataclasses.fields(cls):
        dotted = f"{path}{field.name}"
        if is_section(field):
            inner = prefixes.get(dotted, field.metadata["section"])
            yield from flat_fields(field.default_factory, prefixes, f"{dotted}.", prefix + inner)
        else:
            yield FlatField(cls, field, dotted, prefix + field.name)


def flatten(config: Config, prefixes: dict[str, str] | None = None) -> dict:
    """A config as flat ``{option name: value}``, the shape of sweep parameters and W&B config."""
    flat = {}
    for item in flat_fields(type(config), prefixes):
        value = config
        for part in item.dotted.split("."):
            value = getattr(value, part)
        flat[item.name] = value
    return flat


def build(
    cls, values: dict, prefixes: dict[str, str] | None = None, path: str = "", prefix: str = ""
):
    """``cls`` from flat option values (missing ones take their defaults).

    An InputError from a nested section names the field by its dotted path
    (``pretext.epochs``), so the CLI can name the option the user typed.
    """
    prefixes = prefixes or {}
    arguments = {}
    for field in dataclasses.fields(cls):
        dotted = f"{path}{field.name}"
        if is_section(field):
            inner = prefixes.get(dotted, field.metadata["section"])
            arguments[field.name] = build(
                field.default_factory, values, prefixes, f"{dotted}.", prefix + inner
            )
        elif prefix + field.name in values and values[prefix + field.name] is not None:
            arguments[field.name] = values[prefix + field.name]
    try:
        return cls(**arguments)
    except InputError as error:
        if not path:
            raise
        raise error.within(path.rstrip(".")) from None


PRETRAIN_PREFIXES = {"pretext": ""}  # `sslexp pretrain --epochs` is the pretext's epochs


def pretrain_options(train_values: dict) -> dict:
    """The ``sslexp pretrain`` options that make the backbone a train run with these
    (flat, sweep-parameter) values asks for with ``--pretrained auto``."""
    return flatten(TrainConfig.from_flat(train_values).pretrain_config(), PRETRAIN_PREFIXES)


def from_dict(cls, values: dict):
    """A config from its nested ``as_dict()`` form (a record's ``config``); unknown keys ignored."""
    arguments = {}
    for field in dataclasses.fields(cls):
        if field.name not in values:
            continue
        value = values[field.name]
        arguments[field.name] = (
            from_dict(field.default_factory, value or {}) if is_section(field) else value
        )
    return cls(**arguments)
