"""What a long-lived worker clears between runs, and what it keeps."""

import keras

from sslexp.sweep import between_runs


def test_clearing_the_session_restarts_layer_names_as_a_fresh_process_would():
    keras.layers.Dense(2)
    between_runs.clear_keras_session()
    assert keras.layers.Dense(2).name == "dense"


def test_clearing_the_session_keeps_tensorflows_compiled_kernels(monkeypatch):
    if keras.backend.backend() != "tensorflow":
        return
    from tensorflow.python.eager import context

    cleared = []
    monkeypatch.setattr(context.Context, "clear_kernel_cache", lambda self: cleared.append(1))
    between_runs.clear_keras_session()
    assert cleared == []
    context.context().clear_kernel_cache()  # the method itself is back afterwards
    assert cleared == [1]


def test_survivors_of_the_first_collection_are_frozen_once(monkeypatch):
    frozen, collected = [], []
    monkeypatch.setattr(between_runs, "_frozen", False)
    monkeypatch.setattr(between_runs.gc, "freeze", lambda: frozen.append(1))
    monkeypatch.setattr(between_runs.gc, "collect", lambda: collected.append(1))
    between_runs.collect_garbage()
    between_runs.collect_garbage()
    assert collected == [1, 1] and frozen == [1]
