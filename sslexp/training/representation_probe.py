"""Pretraining measured by what it is for: how well its features separate the classes.

Rotation accuracy says how well the pretext task is solved, not whether the
backbone got better for the downstream task. After every pretext epoch,
``RepresentationProbe`` fits a k-nearest-neighbour classifier on the backbone's
features of a small labelled slice of the pool (taken from the pretext's
held-out images, never the test split) and scores it on the rest of that slice;
``probe_accuracy`` joins the epoch's logs, so the history file, the W&B run and
the report all show it. The "still improving" warning goes by this curve.

Both the probe and the pretext validation see BatchNorm statistics recomputed
the way downstream runs recompute them (``sslexp.training.batchnorm``): the
moving averages Keras keeps lag far behind the weights, which made held-out
rotation accuracy look 5-15 points worse than training accuracy. Statistics
are put back afterwards, so training is unchanged.
Imports Keras: import this module lazily, where training starts.
"""

from __future__ import annotations

import keras
import numpy as np

from sslexp.training.batchnorm import (
    moving_statistics,
    recalibrate,
    restore_statistics,
    trainable_batchnorm_layers,
)

PROBE_METRIC = "probe_accuracy"
PROBE_NEIGHBOURS = 10
PROBE_BATCH = 256


def probe_split(labels: np.ndarray, limit: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions (into ``labels``) of the probe's fit half and scored half: stratified, at
    most ``limit`` together, the same for every epoch."""
    from sklearn.model_selection import train_test_split

    positions = np.random.default_rng([seed, 4421]).permutation(len(labels))[:limit]
    counts = np.bincount(labels[positions])
    stratify = labels[positions] if counts[counts > 0].min() >= 2 else None
    fit, scored = train_test_split(positions, test_size=0.5, random_state=seed,
                                   stratify=stratify)
    return np.sort(fit), np.sort(scored)


def knn_accuracy(fit_features, fit_labels, scored_features, scored_labels,
                 neighbours: int = PROBE_NEIGHBOURS) -> float:
    """Accuracy of a cosine k-NN classifier (scikit-learn) fitted on the first half."""
    from sklearn.neighbors import KNeighborsClassifier

    classifier = KNeighborsClassifier(n_neighbors=min(neighbours, len(fit_labels)),
                                      metric="cosine")
    classifier.fit(fit_features, fit_labels)
    return float(classifier.score(scored_features, scored_labels))


def features_with_recalibrated_statistics(backbone, images: np.ndarray,
                                          calibration_images: np.ndarray) -> np.ndarray:
    """The backbone's features of ``images`` with its BatchNorm statistics recomputed from
    ``calibration_images``; the statistics it had are restored afterwards."""
    layers = trainable_batchnorm_layers(backbone)
    saved = moving_statistics(layers)
    try:
        recalibrate(backbone, calibration_images)
        features = backbone.predict(images, batch_size=PROBE_BATCH, verbose=0)
    finally:
        restore_statistics(layers, saved)
    return np.asarray(features, dtype="float32").reshape(len(images), -1)


class RepresentationProbe(keras.callbacks.Callback):
    """Adds ``probe_accuracy`` to every epoch's logs. Put it before the callbacks that
    record the logs (CSV history, W&B), which Keras calls in list order."""

    def __init__(self, backbone, images: np.ndarray, labels: np.ndarray,
                 calibration_images: np.ndarray, seed: int, limit: int):
        super().__init__()
        self.backbone = backbone
        fit, scored = probe_split(labels, limit, seed)
        self.fit_images, self.fit_labels = images[fit], labels[fit]
        self.scored_images, self.scored_labels = images[scored], labels[scored]
        self.calibration_images = calibration_images

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        both = np.concatenate([self.fit_images, self.scored_images])
        features = features_with_recalibrated_statistics(self.backbone, both,
                                                         self.calibration_images)
        fitted = len(self.fit_images)
        logs[PROBE_METRIC] = knn_accuracy(features[:fitted], self.fit_labels,
                                          features[fitted:], self.scored_labels)


def all_rotations(images: np.ndarray) -> np.ndarray:
    """Every image at 0, 90, 180 and 270 degrees, as the pretext's training batches hold them."""
    return np.concatenate([np.rot90(images, k, axes=(1, 2)) for k in range(4)])


class RecalibratePretextBeforeValidation(keras.callbacks.Callback):
    """Pretext validation as downstream runs validate: the pretext model's BatchNorm
    statistics recomputed from rotated training images before each validation, Keras'
    own put back after it."""

    def __init__(self, pretext_model, images: np.ndarray):
        super().__init__()
        self.pretext_model = pretext_model
        self.images = all_rotations(images)
        self._saved = None
        self._layers = []

    def on_test_begin(self, logs=None):
        self._layers = trainable_batchnorm_layers(self.pretext_model)
        self._saved = moving_statistics(self._layers)
        recalibrate(self.pretext_model, self.images)

    def on_test_end(self, logs=None):
        if self._saved is not None:
            restore_statistics(self._layers, self._saved)
            self._saved = None


def still_improving(history: list[dict], fallback_key: str) -> bool:
    """Whether the last epoch was the best by the probe (by ``fallback_key`` without one)."""
    key = PROBE_METRIC if any(PROBE_METRIC in row for row in history) else fallback_key
    values = [row.get(key, float("-inf")) for row in history]
    return bool(values) and int(np.argmax(values)) == len(values) - 1


CALIBRATION_IMAGES = 256  # x4 rotations for the pretext model


def pretext_callbacks(pretext_model, backbone, images: np.ndarray, labels: np.ndarray,
                      train_indices: np.ndarray, val_indices: np.ndarray, probe_images: int,
                      seed: int) -> list:
    """Recalibrated pretext validation and, with ``probe_images``, the representation probe
    on the held-out slice's labels. Goes first in ``fit``'s callbacks (see the probe)."""
    from sslexp.training.batchnorm import recalibration_images

    calibration = recalibration_images(images[train_indices], seed)
    callbacks = [RecalibratePretextBeforeValidation(
        pretext_model, calibration[:CALIBRATION_IMAGES])]
    if probe_images and len(val_indices) >= 4:
        callbacks.append(RepresentationProbe(backbone, images[val_indices], labels[val_indices],
                                             calibration, seed, probe_images))
    return callbacks
