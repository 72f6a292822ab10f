"""The winners file: the downstream settings tuning chose for each method, and how.

A W&B sweep is a grid over parameters, so one study sweep cannot give ssl and
scratch different learning rates directly. Each arm is tuned in its own sweep
(``sweeps/tuning_ssl.yaml``, ``sweeps/tuning_scratch.yaml``: the same grid, so
the same tuning budget) on the tuning fold; ``sslexp sweep tune-winners`` writes
the winners; a study names the file (``tuned: FILE``) and every run takes its
method's values from it (``apply_tuned``). The record keeps the file and the
values used.

The tuning fold is the last fold of the study's ``folds`` (``tuning_fold``): its
labelled images lie in a part of the pool that no evaluation fold draws from
(``sslexp.data.splits``: for label fractions up to 1/folds, fold ``f`` labels
only images of its own partition), so tuning never sees an evaluated subset.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from sslexp.config import METHODS, TrainConfig
from sslexp.errors import InputError

TUNED_FIELDS = ("lr", "augment", "weight_decay")  # what tuning chooses per method


def tuning_fold(folds: int) -> int:
    """The fold reserved for tuning: the last one. Evaluation uses folds 0..folds-2."""
    return folds - 1


def read_winners(path: str | Path) -> dict:
    """The winners file as a dict, checked: ``methods`` maps each method to its values."""
    path = Path(path)
    try:
        loaded = yaml.safe_load(path.read_text())
    except OSError as error:
        raise InputError(
            "tuned",
            str(path),
            f"cannot be read ({error.strerror}); run the "
            "tuning sweeps and `sslexp sweep tune-winners` "
            "first (`make tune`).",
        ) from None
    except yaml.YAMLError as error:
        raise InputError("tuned", str(path), f"is not valid YAML: {error}") from None
    methods = loaded.get("methods") if isinstance(loaded, dict) else None
    if not isinstance(methods, dict) or not methods:
        raise InputError(
            "tuned",
            str(path),
            "has no `methods` mapping (method -> lr, augment, "
            "weight_decay); write it with `sslexp sweep "
            "tune-winners`.",
        )
    for method, values in methods.items():
        missing = [
            name for name in TUNED_FIELDS if not isinstance(values, dict) or name not in values
        ]
        if method not in METHODS or missing:
            raise InputError(
                "tuned",
                str(path),
                f"entry {method!r} must be one of {', '.join(METHODS)} with "
                f"{', '.join(TUNED_FIELDS)} (missing: {', '.join(missing)}).",
            )
    return loaded


def apply_tuned(config: TrainConfig) -> TrainConfig:
    """``config`` with its method's tuned values, or unchanged without ``tuned``."""
    if not config.tuned:
        return config
    winners = read_winners(config.tuned)
    chosen = winners["methods"].get(config.method)
    if chosen is None:
        raise InputError(
            "tuned",
            config.tuned,
            f"has no winner for method {config.method!r} (it has "
            f"{', '.join(winners['methods'])}); tune that arm too, with the same "
            "grid.",
        )
    return config.replace(**{name: chosen[name] for name in TUNED_FIELDS})


def write_winners(path: str | Path, winners: dict) -> Path:
    """Write the winners file (YAML, with a header saying where it came from)."""
    from sslexp.runs.record import write_atomic

    header = (
        "# Downstream settings chosen per method by `sslexp sweep tune-winners`;\n"
        "# a study names this file (tuned: FILE). Test accuracy was not used.\n"
    )
    text = header + yaml.safe_dump(winners, sort_keys=False)
    return write_atomic(Path(path), text.encode())
