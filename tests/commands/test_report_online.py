"""`sslexp report --wandb` when W&B cannot be used: one line saying what to do, exit status 2
(1 for the network), like every online command."""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner

from sslexp.cli import main
from tests.wandb_standins.server import fake_wandb


def report_from_wandb(tmp_path, *options):
    return CliRunner().invoke(main, ["report", "--wandb", "acme-team/rotnet-study", "--sweep",
                                     "swp1", "--out", str(tmp_path / "report"), *options])


def test_without_an_api_key_report_from_wandb_is_one_line_and_exit_2(tmp_path, monkeypatch):
    with fake_wandb(monkeypatch, tmp_path):
        monkeypatch.delenv("WANDB_API_KEY")
        monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
        monkeypatch.setenv("HOME", str(tmp_path))
        result = report_from_wandb(tmp_path)
    assert result.exit_code == 2, result.output
    assert "no W&B API key: run `wandb login`" in result.output
    assert "`sslexp report SWEEP_DIR` needs no W&B" in result.output
    assert not (tmp_path / "report").exists()


@pytest.mark.slow
def test_without_network_report_from_wandb_is_one_line_and_exit_1(tmp_path, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
    result = report_from_wandb(tmp_path)
    assert result.exit_code == 1, result.output
    assert f"cannot reach W&B at http://127.0.0.1:{port}" in result.output
