"""Seconds per named step, as a run records them."""

import time

import pytest

from sslexp.training.timing import StepTimer


def test_steps_are_timed_in_order_and_a_repeated_step_adds_up():
    timer = StepTimer()
    with timer.step("data"):
        time.sleep(0.01)
    with timer.step("fit"):
        pass
    with timer.step("data"):
        time.sleep(0.01)
    assert list(timer.seconds) == ["data", "fit"]
    assert timer.seconds["data"] >= 0.02 > timer.seconds["fit"] >= 0


def test_a_step_that_fails_is_timed_all_the_same():
    timer = StepTimer()
    with pytest.raises(RuntimeError), timer.step("fit"):
        raise RuntimeError("stopped")
    assert "fit" in timer.seconds
