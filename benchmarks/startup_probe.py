"""Run ``sslexp`` command lines in this process and record when their training starts.

    python benchmarks/startup_probe.py MARKS_JSON -- ARGS... [-- ARGS...]

Each ``--`` starts one command line (``train ...`` or ``pretrain ...``); they
run one after another in the same interpreter, the way a long-lived sweep
worker would run them. Keras' ``fit`` is wrapped so that a callback notes the
first ``on_train_batch_begin``; nothing in sslexp changes. Times are seconds
since the process was launched (``SSLEXP_BENCH_LAUNCHED_AT``, set by the
parent just before it starts this process; else psutil's process start time,
which Linux rounds to its boot time's whole second).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time


def launch_time() -> float:
    if "SSLEXP_BENCH_LAUNCHED_AT" in os.environ:
        return float(os.environ["SSLEXP_BENCH_LAUNCHED_AT"])
    import psutil

    return psutil.Process().create_time()


LAUNCHED_AT = launch_time()
INTERPRETER_READY = time.time()


class Marks:
    """Named moments of each command line, in seconds since launch."""

    def __init__(self):
        self.runs: list[dict] = []

    def note(self, name: str) -> None:
        run = self.runs[-1]
        run.setdefault(name, round(time.time() - LAUNCHED_AT, 3))

    def count_fit(self) -> None:
        self.runs[-1]["fit_calls"] = self.runs[-1].get("fit_calls", 0) + 1


MARKS = Marks()


def wrap_fit() -> None:
    """Add a callback to every ``fit`` that notes its first step; note when fit returns."""
    import keras

    class FirstStep(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            MARKS.note("first_step_begin")

        def on_train_batch_end(self, batch, logs=None):
            MARKS.note("first_step_end")

    original_fit = keras.Model.fit

    def fit(self, *args, callbacks=None, **kwargs):
        MARKS.note("fit_called")
        MARKS.count_fit()
        history = original_fit(self, *args, callbacks=[*(callbacks or []), FirstStep()], **kwargs)
        MARKS.note("fit_end")
        return history

    keras.Model.fit = fit


def wrap_data_loading() -> None:
    """Note when the data set starts and finishes loading (cache hit or decode)."""
    import sslexp.data

    original_load = sslexp.data.load_dataset

    def load_dataset(*args, **kwargs):
        MARKS.note("data_load_begin")
        try:
            return original_load(*args, **kwargs)
        finally:
            MARKS.note("data_load_end")

    sslexp.data.load_dataset = load_dataset


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM).

    ``ru_maxrss`` would not do: Linux carries it over from the parent through
    fork and exec, so a child of a large process reports the parent's peak.
    """
    try:
        with open("/proc/self/status") as stream:
            for line in stream:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def split_command_lines(arguments: list[str]) -> list[list[str]]:
    lines, current = [], None
    for argument in arguments:
        if argument == "--":
            current = []
            lines.append(current)
        elif current is None:
            raise SystemExit("usage: startup_probe.py MARKS_JSON -- ARGS... [-- ARGS...]")
        else:
            current.append(argument)
    return lines


def run_command_line(arguments: list[str]) -> None:
    from sslexp.cli import main

    MARKS.runs.append({"arguments": arguments})
    MARKS.note("run_begin")
    main(args=arguments, prog_name="sslexp", standalone_mode=False)
    MARKS.note("run_end")


def main() -> int:
    marks_path = sys.argv[1]
    command_lines = split_command_lines(sys.argv[2:])
    MARKS.runs.append({"arguments": ["(imports)"]})
    import keras  # noqa: F401  (the commands import it too; here it is timed once)

    MARKS.note("imports_done")
    wrap_fit()
    wrap_data_loading()
    imports = MARKS.runs.pop()
    for arguments in command_lines:
        run_command_line(arguments)
    record = {
        "interpreter_ready": round(INTERPRETER_READY - LAUNCHED_AT, 3),
        "imports_done": imports["imports_done"],
        "runs": MARKS.runs,
        "peak_rss_mib": round(peak_rss_mib(), 1),
    }
    with open(marks_path, "w") as stream:
        json.dump(record, stream, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
