"""Synthetic volume sweeps as runs in memory: ssl at five unlabelled shares of a 60k pool and
scratch at two label fractions, six folds, with a gain (ssl - scratch) chosen by the test."""

from __future__ import annotations

from sslexp.report.collect import SweepRun
from sslexp.runs.record import Record

POOL = 60_000
SHARES = (0.025, 0.0625, 0.15, 0.4, 1.0)  # 1,500 3,750 9,000 24,000 60,000 images
LABELS = {0.001: 60, 0.005: 300}
FOLDS = tuple(range(6))


def run(method: str, fraction: float, fold: int, accuracy: float, **config) -> SweepRun:
    labels = LABELS[fraction]
    record = Record(
        kind="train",
        state="finished",
        test={"accuracy": accuracy},
        split={"n_labels": labels, "pool_size": POOL, "labels_per_class": [labels // 10] * 10},
    )
    values = {"label_fraction": fraction, "method": method, "fold": fold, **config}
    share = config.get("pretext_unlabeled_fraction", "")
    return SweepRun(f"{method}-{fraction:g}-{fold}-{share}", None, "finished", values, record)


def scratch_accuracy(fraction: float, fold: int) -> float:
    return 0.60 + 0.01 * fold + (0.10 if fraction == 0.005 else 0.0)


def noise(share: float, fold: int) -> float:
    """+-0.3 points in a pattern whose differences between volumes average to zero."""
    return 0.003 * ((fold + SHARES.index(share)) % 3 - 1)


def volume_sweep(gain, folds=FOLDS, updates: int = 640, epochs: int = 4) -> list[SweepRun]:
    """ssl at every share and scratch (no share, as a baseline sweep gives them) at both
    fractions; ``gain(share, fraction, fold)`` is ssl - scratch."""
    runs = [
        run("scratch", fraction, fold, scratch_accuracy(fraction, fold))
        for fraction in LABELS
        for fold in folds
    ]
    for share in SHARES:
        for fraction in LABELS:
            for fold in folds:
                accuracy = scratch_accuracy(fraction, fold) + gain(share, fraction, fold)
                runs.append(
                    run(
                        "ssl",
                        fraction,
                        fold,
                        accuracy,
                        pretext_unlabeled_fraction=share,
                        pretext_updates=updates,
                        pretext_epochs=epochs,
                    )
                )
    return runs


PLATEAU = {0.025: 0.00, 0.0625: 0.02, 0.15: 0.05, 0.4: 0.05, 1.0: 0.05}


def plateau(share, fraction, fold):
    return PLATEAU[share] + noise(share, fold)


def rising(share, fraction, fold):
    return 0.02 * SHARES.index(share) + noise(share, fold)
