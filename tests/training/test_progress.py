"""The progress file a run keeps up to date, for anyone to poll."""

from __future__ import annotations

import numpy as np

from sslexp.runs.protocol import progress_path, read_progress
from sslexp.training.progress import ProgressCallback


def test_the_callback_writes_phase_epoch_and_step(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    target = progress_path(tmp_path)
    model.fit(
        np.zeros((8, 2)),
        np.zeros(8),
        batch_size=4,
        epochs=3,
        verbose=0,
        callbacks=[ProgressCallback([target], "train")],
    )
    written = read_progress(tmp_path)
    assert (written["phase"], written["epoch"], written["epochs"]) == ("train", 3, 3)
    assert written["step"] == written["steps"] == 2
    timing = written["phases"]["train"]
    assert timing["started_at"] <= timing["ended_at"] <= written["updated_at"]


def test_an_unreadable_progress_file_is_no_progress(tmp_path):
    progress_path(tmp_path).write_text("{half")
    assert read_progress(tmp_path) is None
    assert read_progress(tmp_path / "missing") is None
