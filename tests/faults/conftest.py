"""Fixtures of the fault-injection tests: the stand-in of ``helpers``."""

from __future__ import annotations

import pytest

from tests.faults.helpers import FaultStandin
from tests.sweep.standins import read_ledger


@pytest.fixture
def standin(tmp_path) -> FaultStandin:
    return FaultStandin(tmp_path)


@pytest.fixture
def ledger_of():
    return read_ledger
