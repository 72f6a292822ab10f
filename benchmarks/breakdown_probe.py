"""Run demo ``sslexp train`` command lines the way a long-lived sweep worker runs them,
and note where each run's seconds go.

    python benchmarks/breakdown_probe.py OUT_JSON REQUESTS_JSON

REQUESTS_JSON lists runs: ``{"arguments": [...], "env": {...}, "log": PATH}``. Each
runs through the sweep worker's own code (``sslexp.sweep.worker``: environment,
output redirection, the click entry point, the state restored after it). The
functions a run spends its time in are wrapped by a clock that charges every
second to exactly one component (the innermost one running), so the components of
a run add up to its wall time; nothing in sslexp changes. Keras callbacks are
charged by their class: checkpoints, history, progress file, W&B logging.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys
import time
from pathlib import Path

# Components, in the order the table lists them.
WORKER = "worker: between runs (state restored, Keras session cleared)"
CLI = "command line, config, plan, other"
DATA = "data (cached arrays, split)"
MODEL = "model: backbone loaded or built, classifier"
COMPILE = "compile, or reuse of a kept compiled model"
FIRST_STEP = "first training step"
UPDATES = "optimizer updates (fit, after its first step)"
VALIDATION = "validations (evaluation)"
RECALIBRATION = "BatchNorm recomputation (before validations and test)"
CHECKPOINTS = "checkpoints during fit (best weights, backup)"
HISTORY = "history and progress files"
SELECT = "selection (best weights loaded)"
TEST = "test (two evaluations)"
SAVING = "saving (initial filters, final model)"
FIGURES = "figures (filters, activations)"
RECORD = "record (results.json writes)"
WANDB_START = "W&B start (wandb.init)"
WANDB_LOGGING = "W&B logging (metrics, summary, files)"
WANDB_FINISH = "W&B finish"
COMPONENTS = (
    WORKER,
    CLI,
    DATA,
    MODEL,
    COMPILE,
    FIRST_STEP,
    UPDATES,
    VALIDATION,
    RECALIBRATION,
    CHECKPOINTS,
    HISTORY,
    SELECT,
    TEST,
    SAVING,
    FIGURES,
    RECORD,
    WANDB_START,
    WANDB_LOGGING,
    WANDB_FINISH,
)
UPDATE_COMPONENTS = (UPDATES,)


class ExclusiveClock:
    """Charges elapsed time to the innermost open component: nested ones pause their parent."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self._stack: list[str] = []
        self._since = time.perf_counter()

    def _charge(self) -> None:
        now = time.perf_counter()
        if self._stack:
            name = self._stack[-1]
            self.seconds[name] = self.seconds.get(name, 0.0) + now - self._since
        self._since = now

    @contextlib.contextmanager
    def component(self, name: str):
        self._charge()
        self._stack.append(name)
        try:
            yield
        finally:
            self._charge()
            self._stack.pop()

    def take(self) -> dict[str, float]:
        taken, self.seconds = self.seconds, {}
        return taken


CLOCK = ExclusiveClock()


def charged(function, name: str):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with CLOCK.component(name):
            return function(*args, **kwargs)

    wrapper.__wrapped_by_probe__ = True
    return wrapper


def wrap(owner, attribute: str, name: str) -> None:
    setattr(owner, attribute, charged(getattr(owner, attribute), name))


def callback_component(callback) -> str | None:
    """The component a Keras callback's hooks are charged to (None: the caller's)."""
    import keras

    kind = type(callback).__name__
    if isinstance(callback, (keras.callbacks.ModelCheckpoint, keras.callbacks.BackupAndRestore)):
        return CHECKPOINTS
    if isinstance(callback, keras.callbacks.CSVLogger) or kind == "ProgressCallback":
        return HISTORY
    if kind.startswith("Wandb"):
        return WANDB_LOGGING
    return None


class FirstStep:
    """Seconds of the first training batch of a run, taken out of the updates later."""

    seconds = 0.0
    _began = None

    @classmethod
    def callback(cls):
        import keras

        class Note(keras.callbacks.Callback):
            def on_train_batch_begin(self, batch, logs=None):
                if cls._began is None:
                    cls._began = time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                if cls._began is not None and not cls.seconds:
                    cls.seconds = time.perf_counter() - cls._began

        return Note()

    @classmethod
    def take(cls) -> float:
        seconds, cls.seconds, cls._began = cls.seconds, 0.0, None
        return seconds


def wrap_fit() -> None:
    """Charge fit to updates, its evaluations to validation, its callbacks by class."""
    import keras

    original_fit, original_evaluate = keras.Model.fit, keras.Model.evaluate

    def fit(self, *args, callbacks=None, **kwargs):
        callbacks = list(callbacks or [])
        for callback in callbacks:
            name = callback_component(callback)
            if name is None:
                continue
            for hook in dir(callback):
                if hook.startswith("on_") and callable(getattr(callback, hook)):
                    setattr(callback, hook, charged(getattr(callback, hook), name))
        with CLOCK.component(UPDATES):
            return original_fit(self, *args, callbacks=[FirstStep.callback(), *callbacks], **kwargs)

    def evaluate(self, *args, **kwargs):
        with CLOCK.component(VALIDATION):
            return original_evaluate(self, *args, **kwargs)

    keras.Model.fit = fit
    keras.Model.evaluate = evaluate


def instrument() -> None:
    """Wrap what a run spends its time in (imports sslexp's training and W&B)."""
    import wandb
    import wandb.sdk.wandb_run

    from sslexp.runs import lifecycle
    from sslexp.sweep import worker
    from sslexp.training import batchnorm, runtime, tracking, train

    for attribute in ("load_dataset", "label_split"):
        wrap(train, attribute, DATA)
    for attribute in (
        "find_pretrained",
        "_pretrained_backbone",
        "_new_backbone",
        "apply_finetune_policy",
        "build_classifier",
    ):
        wrap(train, attribute, MODEL)
    wrap(runtime, "compile_model", COMPILE)
    wrap(train, "_save_initial_filters", SAVING)
    wrap(runtime, "save_model_atomic", SAVING)
    wrap(batchnorm, "recalibrate", RECALIBRATION)
    wrap(train, "recalibrate", RECALIBRATION)
    wrap(train, "_select", SELECT)
    wrap(train, "_test", TEST)
    wrap(train, "save_run_figures", FIGURES)
    wrap(lifecycle, "write_record", RECORD)
    wrap(tracking, "write_record", RECORD)
    for attribute in ("mirror_summary", "save_files", "declare_backbone"):
        wrap(tracking, attribute, WANDB_LOGGING)
    wrap(wandb, "init", WANDB_START)
    wrap(wandb.sdk.wandb_run.Run, "finish", WANDB_FINISH)
    wrap(worker.WorkerState, "restore", WORKER)
    wrap_fit()


def run_all(requests: list[dict]) -> list[dict]:
    """Each request as the worker serves it; per run its components and its wall time."""
    from sslexp.sweep.worker import WorkerState, output_to, run_command

    state = WorkerState()
    runs = []
    for request in requests:
        request = {"cwd": None, "sys_argv": ["sslexp", *request["arguments"]], **request}
        started = time.perf_counter()
        with CLOCK.component(CLI), output_to(request["log"]):
            state.enter(request)
            status = run_command(request["arguments"])
            state.restore(status)
        wall = time.perf_counter() - started
        seconds = CLOCK.take()
        first_step = min(FirstStep.take(), seconds.get(UPDATES, 0.0))
        seconds[UPDATES] = seconds.get(UPDATES, 0.0) - first_step
        seconds[FIRST_STEP] = first_step
        runs.append(
            {"name": request.get("name"), "exit_code": status, "wall_s": wall, "seconds": seconds}
        )
        if status != 0:
            break
    return runs


def main() -> int:
    out_path, requests_path = Path(sys.argv[1]), Path(sys.argv[2])
    started = time.perf_counter()
    import keras  # noqa: F401  (a worker's first run imports these; timed here once)

    import sslexp.cli  # noqa: F401

    instrument()
    imports_s = time.perf_counter() - started
    runs = run_all(json.loads(requests_path.read_text()))
    out_path.write_text(json.dumps({"imports_s": imports_s, "runs": runs}, indent=1))
    return 0 if all(run["exit_code"] == 0 for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
