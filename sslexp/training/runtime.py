"""Start-up settings and Keras callbacks shared by pretraining and training."""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import sys
import warnings
from pathlib import Path

from sslexp.runs.protocol import DETERMINISTIC_ENV, KEEP_COMPILED_ENV
from sslexp.runs.record import BACKUP_DIR, HISTORY_FILE, read_history

COMPILATION_CACHE = "compiled"  # under the data cache directory, one folder per backend
# Measured on a 2-core AVX2 CPU (no bfloat16 instructions), TensorFlow 2.21: a ResNet-8
# pretext step ran 2.9x slower in mixed_bfloat16 and 2.4x slower in mixed_float16.
CPU_MIXED_POLICY = "float32"


@dataclasses.dataclass(frozen=True)
class Runtime:
    """What a run ran on, as its record states it."""

    backend: str
    device: str  # cpu, gpu or tpu
    dtype_policy: str  # the Keras policy --precision resolved to here
    deterministic: bool

    def summary(self) -> dict:
        return dataclasses.asdict(self)


def configure(seed: int, precision: str = "float32", cache_dir: Path | None = None) -> Runtime:
    """Set up the process for one run, whatever the Keras backend.

    Quiet logs; GPU memory taken on demand (runs can share a GPU); XLA
    compilations cached on disk under ``cache_dir`` (shared by the runs of a
    sweep); the dtype policy for ``precision``; deterministic ops when
    ``SSLEXP_DETERMINISTIC=1``; every seed. Called before anything touches the
    device, and again by each run of a long-lived worker.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # JAX, the same on demand
    deterministic = os.environ.get(DETERMINISTIC_ENV, "").lower() in ("1", "true", "yes")
    import keras

    backend = keras.backend.backend()
    setup = {
        "tensorflow": _configure_tensorflow,
        "jax": _configure_jax,
        "torch": _configure_torch,
    }.get(backend)
    if setup is not None:
        setup(
            deterministic,
            None if cache_dir is None else Path(cache_dir).resolve() / COMPILATION_CACHE / backend,
        )
    device = accelerator()
    policy = dtype_policy(precision, device)
    keras.config.set_dtype_policy(policy)
    reseed(seed)
    return Runtime(backend=backend, device=device, dtype_policy=policy, deterministic=deterministic)


def reseed(seed: int) -> None:
    """Seed Python, NumPy and the backend, as at the start of a run."""
    import keras

    keras.utils.set_random_seed(seed)


def _configure_tensorflow(deterministic: bool, compilation_cache: Path | None) -> None:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if (
        gpus
        and compilation_cache is not None
        and "tf_xla_persistent_cache" not in os.environ.get("TF_XLA_FLAGS", "")
    ):
        # Keras compiles with XLA on GPUs only; the flag is read at the first compilation.
        compilation_cache.mkdir(parents=True, exist_ok=True)
        os.environ["TF_XLA_FLAGS"] = (
            os.environ.get("TF_XLA_FLAGS", "") + " "
            f"--tf_xla_persistent_cache_directory={compilation_cache}"
        ).strip()
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            pass  # already initialised; TF_FORCE_GPU_ALLOW_GROWTH covers it
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def _configure_jax(deterministic: bool, compilation_cache: Path | None) -> None:
    import jax

    if deterministic and "xla_gpu_deterministic_ops" not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = (
            os.environ.get("XLA_FLAGS", "") + " --xla_gpu_deterministic_ops=true"
        ).strip()
    if compilation_cache is not None and not jax.config.jax_compilation_cache_dir:
        compilation_cache.mkdir(parents=True, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", str(compilation_cache))
        if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:
            # Keep every compilation, not only those over a second: a run compiles
            # dozens of small ones (one initializer per weight shape) that add up.
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)


def _configure_torch(deterministic: bool, compilation_cache: Path | None) -> None:
    if deterministic:
        import torch

        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)


def accelerator() -> str:
    """``gpu``, ``tpu`` or ``cpu``: the kind of device the Keras backend computes on."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        kinds = [kind for kind in ("TPU", "GPU") if tf.config.list_physical_devices(kind)]
        return kinds[0].lower() if kinds else "cpu"
    if backend == "jax":
        import jax

        platform = jax.devices()[0].platform.lower()
        return "gpu" if platform in ("gpu", "cuda", "rocm") else platform
    if backend == "torch":
        import torch

        return "gpu" if torch.cuda.is_available() else "cpu"
    return "cpu"


def dtype_policy(precision: str, device: str) -> str:
    """The Keras dtype policy of ``--precision`` on ``device``.

    ``mixed``: bfloat16 compute on TPUs and on GPUs that have bfloat16 tensor
    cores (compute capability 8.0 and later), float16 with loss scaling on older
    GPUs; variables stay float32 either way. On a CPU mixed precision made
    training slower, so it runs in float32 there.
    """
    if precision == "float32":
        return "float32"
    if precision != "mixed":
        raise ValueError(f"precision must be float32 or mixed, got {precision!r}")
    if device == "tpu":
        return "mixed_bfloat16"
    if device == "gpu":
        capability = gpu_compute_capability()
        return "mixed_bfloat16" if capability is None or capability >= (8, 0) else "mixed_float16"
    return CPU_MIXED_POLICY


def gpu_compute_capability() -> tuple[int, int] | None:
    """The first GPU's CUDA compute capability, as the backend reports it (None: unknown)."""
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            details = tf.config.experimental.get_device_details(gpus[0]) if gpus else {}
            capability = details.get("compute_capability")
            return tuple(capability) if capability else None
        if backend == "jax":
            import jax

            capability = getattr(jax.devices()[0], "compute_capability", None)
            return (
                tuple(int(part) for part in str(capability).split(".")[:2]) if capability else None
            )
        if backend == "torch":
            import torch

            return tuple(torch.cuda.get_device_capability(0))
    except (RuntimeError, ValueError, IndexError, AttributeError):
        return None
    return None


def scaled_learning_rate(
    learning_rate: float, batch_size: int, reference_batch: int, rule: str
) -> float:
    """The learning rate for ``batch_size`` when ``learning_rate`` suits ``reference_batch``.

    ``sqrt``: multiplied by sqrt(batch / reference), the rule for Adam (Malladi et
    al., NeurIPS 2022); ``linear``: by batch / reference (Goyal et al. 2017, for
    SGD); ``none``: unchanged.
    """
    ratio = batch_size / reference_batch
    factors = {"sqrt": math.sqrt(ratio), "linear": ratio, "none": 1.0}
    if rule not in factors:
        raise ValueError(f"learning-rate scaling must be one of {sorted(factors)}, got {rule!r}")
    return learning_rate * factors[rule]


class CompiledModels:
    """The compiled models a long-lived process keeps for its next runs (none by default).

    A new model with the same structure, trainable layers, dtype policy, loss,
    metrics and optimizer type as a kept one takes the kept one's place: the
    new model's initial weights are copied into it and its optimizer state is
    reset, so ``fit`` reuses the training, evaluation and prediction steps
    already traced (TensorFlow) or compiled (JAX) for it. On 2 CPU cores that
    first step costs as much as the rest of a short run.
    """

    def __init__(self):
        self.capacity = 0
        self._kept: dict[str, object] = {}

    def keep(self, capacity: int) -> None:
        self.capacity = capacity
        while len(self._kept) > capacity:
            self._kept.pop(next(iter(self._kept)))

    def compile(self, model, optimizer, loss, metrics: list):
        """``model.compile(...)``, or the kept model standing in for ``model``: use the
        returned model from here on."""
        if not self.capacity:
            model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
            return model
        key = structure_key(model, optimizer, loss, metrics)
        kept = self._kept.pop(key, None)
        if kept is None:
            model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
            kept = model
        else:
            print("reusing the compiled steps of an earlier run in this process", flush=True)
            kept.set_weights(model.get_weights())
            _reset_optimizer(kept, optimizer)
        self._kept[key] = kept
        self.keep(self.capacity)
        return kept


def structure_key(model, optimizer, loss, metrics: list) -> str:
    """Everything a traced training step depends on, except weight values and learning rate."""
    import json

    import keras

    optimizer_config = {
        k: v for k, v in optimizer.get_config().items() if k not in ("learning_rate", "name")
    }
    described = {
        "model": model.get_config(),
        "policy": keras.config.dtype_policy().name,
        "trainable": [w.path for w in model.trainable_weights],
        "optimizer": [type(optimizer).__name__, optimizer_config],
        "loss": loss,
        "metrics": metrics,
        "backend": keras.backend.backend(),
    }
    return json.dumps(described, sort_keys=True, default=repr)


def _reset_optimizer(model, optimizer) -> None:
    """Give ``model``'s optimizer the state ``optimizer`` starts with (learning rate included)."""
    import keras

    fresh = optimizer
    if isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer) and not isinstance(
        fresh, keras.optimizers.LossScaleOptimizer
    ):
        fresh = keras.optimizers.LossScaleOptimizer(fresh)  # as compile wraps it
    fresh.build(model.trainable_variables)
    for mine, initial in zip(model.optimizer.variables, fresh.variables, strict=True):
        mine.assign(initial)


COMPILED_MODELS = CompiledModels()


def compile_model(model, optimizer, loss, metrics: list):
    """Compile ``model``, or reuse a kept compiled twin (``CompiledModels``) in a process
    that runs many runs and says so with ``SSLEXP_KEEP_COMPILED_MODELS=N``; returns the
    model to train."""
    COMPILED_MODELS.keep(int(os.environ.get(KEEP_COMPILED_ENV) or 0))
    return COMPILED_MODELS.compile(model, optimizer, loss, metrics)


def fit_verbosity() -> int:
    """A live progress bar on a terminal, one line per epoch in logs."""
    return 1 if sys.stdout.isatty() else 2


def save_model_atomic(model, path) -> None:
    """Keras wants a .keras suffix, so write a hidden sibling and rename it."""
    path = Path(path)
    temporary = path.with_name(f".{path.stem}.partial.keras")
    model.save(temporary)
    os.replace(temporary, path)


def backup_callback(backup_dir):
    """Keras' BackupAndRestore keeping the previous backup too (``double_checkpoint``).

    A process killed while writing its very first backup leaves a truncated
    file and no previous one; that run restarts from epoch 1 with a warning
    instead of failing on every resume.
    """
    import keras

    class Backup(keras.callbacks.BackupAndRestore):
        def on_train_begin(self, logs=None):
            try:
                super().on_train_begin(logs)
            except OSError as error:
                warnings.warn(
                    f"backup in {self.backup_dir} is unreadable ({error}); "
                    "starting from the first epoch",
                    stacklevel=2,
                )
                shutil.rmtree(self.backup_dir, ignore_errors=True)

    return Backup(str(backup_dir), double_checkpoint=True)


def checkpoint_callbacks(
    output_dir,
    best_path,
    monitor: str,
    mode: str,
    resume: bool,
    weights_only: bool,
    saved_layer: str | None = None,
) -> list:
    """History log, best-epoch checkpoint and backup, in the order that survives a kill.

    The history row and the best checkpoint of an epoch are written before its
    backup, so a resumed run never lacks an epoch it skips. On resume, only an
    epoch better than those already seen replaces the best checkpoint.
    ``saved_layer``: checkpoint that sub-model of the fitted model (the pretext
    model inside the rotation layers), not the fitted model itself.
    """
    import keras

    output_dir = Path(output_dir)
    history_path = output_dir / HISTORY_FILE
    previous = read_history(history_path) if resume and history_path.exists() else []
    pick = max if mode == "max" else min
    best_so_far = pick((row[monitor] for row in previous if monitor in row), default=None)
    return [
        keras.callbacks.CSVLogger(str(history_path), append=resume),
        _checkpoint_of(saved_layer)(
            str(best_path),
            monitor=monitor,
            mode=mode,
            save_best_only=True,
            save_weights_only=weights_only,
            initial_value_threshold=best_so_far,
        ),
        backup_callback(output_dir / BACKUP_DIR),
    ]


def _checkpoint_of(saved_layer: str | None):
    """ModelCheckpoint, or one that saves the sub-model ``saved_layer`` of the fitted model."""
    import keras

    if saved_layer is None:
        return keras.callbacks.ModelCheckpoint

    class SubModelCheckpoint(keras.callbacks.ModelCheckpoint):
        @property
        def model(self):
            # The fitted model's property brings its weights up to date first (JAX).
            return super().model.get_layer(saved_layer)

    return SubModelCheckpoint
