"""One lifecycle for every run: checked, recorded as running, ended whatever happens."""

import os
import signal

import pytest

from sslexp.errors import InputError
from sslexp.runs.lifecycle import AlreadyFinished, check_run_dir, recorded
from sslexp.runs.record import BACKUP_DIR, Record, read_record, write_record


def test_a_run_that_returns_is_finished_and_timed(tmp_path):
    with recorded(tmp_path, Record(kind="train"), resume=False) as record:
        assert read_record(tmp_path).state == "running"
        record.test = {"accuracy": 0.9}
    saved = read_record(tmp_path)
    assert saved.state == "finished" and saved.test_accuracy == 0.9
    assert saved.wall_time_s >= 0 and saved.started_at <= saved.finished_at


@pytest.mark.parametrize("raised, state", [(RuntimeError("boom"), "failed"),
                                           (KeyboardInterrupt(), "interrupted")])
def test_a_run_that_raises_records_how_it_ended(tmp_path, raised, state):
    with pytest.raises(type(raised)):
        with recorded(tmp_path, Record(kind="train"), resume=False):
            raise raised
    saved = read_record(tmp_path)
    assert saved.state == state and saved.error["type"] == type(raised).__name__


def test_sigterm_is_recorded_as_interrupted(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with recorded(tmp_path, Record(kind="train"), resume=False):
            os.kill(os.getpid(), signal.SIGTERM)
    assert read_record(tmp_path).state == "interrupted"
    assert "SIGTERM" in read_record(tmp_path).error["message"]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is put back


def test_a_finished_run_is_never_overwritten(tmp_path):
    write_record(tmp_path, Record(kind="train", state="finished", name="ssl-p0.1-fold0",
                                  test={"accuracy": 0.75}))
    with pytest.raises(InputError, match=r"finished run \(ssl-p0.1-fold0, test accuracy 75.00%\)"):
        check_run_dir(tmp_path, resume=False)
    with pytest.raises(AlreadyFinished):
        check_run_dir(tmp_path, resume=True)


def test_an_unfinished_run_starts_over_unless_resumed(tmp_path):
    write_record(tmp_path, Record(kind="train", state="interrupted"))
    (tmp_path / BACKUP_DIR).mkdir()
    assert check_run_dir(tmp_path, resume=True).state == "interrupted"
    with recorded(tmp_path, Record(kind="train"), resume=True):
        assert (tmp_path / BACKUP_DIR).exists()  # resuming keeps what it resumes from
    assert not (tmp_path / BACKUP_DIR).exists()  # finished: nothing left to resume
    (tmp_path / BACKUP_DIR).mkdir()
    write_record(tmp_path, Record(kind="train", state="failed"))
    with recorded(tmp_path, Record(kind="train"), resume=False):
        assert not (tmp_path / BACKUP_DIR).exists()
