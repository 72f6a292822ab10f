"""What a long-lived process clears between two runs, and what it keeps.

A run must start as in a fresh process: Keras' global state (layer-name
counters, settings) is reset, so a new model's layers get the names they would
get there (and a kept compiled twin is found by its structure). Two things a
plain ``keras.utils.clear_session()`` also does cost more than a short run's
updates on 2 CPU cores and change no result:

- clearing TensorFlow's eager kernel cache, which the next run then rebuilds
  kernel by kernel during its first steps;
- a full garbage collection that scans every object the imports created
  (TensorFlow, Keras, W&B, matplotlib: about half a million), about a second
  each time.

So the kernel cache is kept, and once the first run is over, what survives a
collection (modules, and the compiled models kept for later runs) is moved out
of the collector's scans (``gc.freeze``): later collections look only at what
later runs create.
"""

from __future__ import annotations

import contextlib
import gc

_frozen = False


def clear_keras_session() -> None:
    """``keras.utils.clear_session`` without its garbage collection, keeping TensorFlow's
    compiled kernels."""
    import keras

    with _kernel_cache_kept(keras.backend.backend()):
        keras.utils.clear_session(free_memory=False)


def collect_garbage() -> None:
    """Collect what the run left; after the first run, freeze what survives (once)."""
    global _frozen
    gc.collect()
    if not _frozen:
        gc.freeze()
        _frozen = True


@contextlib.contextmanager
def _kernel_cache_kept(backend: str):
    if backend != "tensorflow":
        yield
        return
    from tensorflow.python.eager import context

    eager = context.context()
    eager.clear_kernel_cache = lambda: None  # this instance only, for the call above
    try:
        yield
    finally:
        del eager.clear_kernel_cache
