"""What a person following `sweep local` in a log sees: runs in flight with their phase and
epoch, the automatic pretraining announced, and a time estimate."""

from __future__ import annotations

import pytest

from tests.faults.helpers import run_sweep_process


@pytest.mark.slow
def test_the_sweep_shows_each_run_in_flight_and_announces_pretraining(standin, tmp_path):
    sweep_file = standin.make_sweep(parameters={"a": {"values": [1, 2]}})
    result = run_sweep_process(
        sweep_file, tmp_path / "sweep", standin.env(STANDIN_PROGRESS="1.2"), "--workers", "2"
    )
    assert result.returncode == 0, result.stderr
    lines = [line.strip() for line in result.stderr.replace("\r", "\n").splitlines()]
    for name in ("a-1", "a-2"):
        assert (
            f"{name}: no cached backbone, so it pretrains one first (2 pretext epochs); "
            "runs needing the same backbone wait" in lines
        )
        assert any(line.startswith(f"{name}  pretrain  epoch ") for line in lines), lines
        assert any(line.startswith(f"{name}  train  epoch ") for line in lines), lines
    assert any("left" in line and "runs [" in line for line in lines)
    assert "2 finished (2 runs)" in result.stdout
