"""Fixtures of the sweep tests: the stand-in training script of ``standins``."""

from __future__ import annotations

import pytest

from tests.sweep.standins import Standin, read_ledger


@pytest.fixture
def standin(tmp_path) -> Standin:
    return Standin(tmp_path)


@pytest.fixture
def ledger_of():
    """Read a sweep directory's ledger.json."""
    return read_ledger
