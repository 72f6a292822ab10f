"""What an exit status and a results file mean for the ledger."""

from __future__ import annotations

import signal

import pytest

from sslexp.sweep.outcome import classify, last_line

FINISHED = {"state": "finished"}


@pytest.mark.parametrize("exit_code, results, state", [
    (0, FINISHED, "finished"),
    (0, {"state": "running"}, "failed"),
    (0, None, "failed"),
    (1, FINISHED, "failed"),
    (2, {"state": "failed", "error": {"type": "ValueError", "message": "bad"}}, "failed"),
    (-signal.SIGTERM, {"state": "running"}, "interrupted"),
    (-signal.SIGINT, None, "interrupted"),
    (130, {"state": "interrupted"}, "interrupted"),
    (-signal.SIGKILL, {"state": "running"}, "failed"),
])
def test_classify(exit_code, results, state):
    assert classify(exit_code, results).state == state


def test_errors_say_what_happened():
    assert "exited 0 but results.json says state 'running'" in classify(0, {"state": "running"}).error
    failed = classify(2, {"state": "failed", "error": {"type": "ValueError", "message": "bad"}})
    assert failed.error == "exited with status 2: ValueError: bad"
    assert classify(1, None, "Traceback...\nKeyError: 'x'").error == "exited with status 1: Traceback...\nKeyError: 'x'"
    assert classify(-signal.SIGKILL, None).error == "killed by SIGKILL"
    assert classify(0, FINISHED).error is None


def test_last_line_of_a_log(tmp_path):
    log = tmp_path / "output.log"
    log.write_text("first\nKeyError: 'x'\n\n")
    assert last_line(log) == "KeyError: 'x'"
    assert last_line(tmp_path / "missing.log") == ""
