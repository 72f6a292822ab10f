"""A run stopped from W&B is recorded as interrupted, not failed: wandb's agent stops the
run it executes in-process by raising a bare Exception() in the run's thread."""

import threading

import pytest

from sslexp.runs.lifecycle import STOPPED_FROM_WANDB, recorded
from sslexp.runs.record import Record, read_record


def end_in_a_thread(tmp_path, raised):
    def run():
        with pytest.raises(type(raised)):
            with recorded(tmp_path, Record(kind="train"), resume=False):
                raise raised

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return read_record(tmp_path)


def test_a_bare_exception_in_the_agents_run_thread_is_a_stop(tmp_path):
    saved = end_in_a_thread(tmp_path, Exception())
    assert saved.state == "interrupted" and saved.error["type"] == STOPPED_FROM_WANDB
    assert "stopped from W&B" in saved.error["message"]


@pytest.mark.parametrize("raised", [Exception("a real error"), RuntimeError()])
def test_any_other_exception_in_a_thread_is_a_failure(tmp_path, raised):
    assert end_in_a_thread(tmp_path, raised).state == "failed"


def test_a_bare_exception_in_the_main_thread_is_a_failure(tmp_path):
    with pytest.raises(Exception):
        with recorded(tmp_path, Record(kind="train"), resume=False):
            raise Exception()
    assert read_record(tmp_path).state == "failed"
