"""Agent command lines and environments (launching is tested through the CLI)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sslexp.sweep.online import agent_specs, parse_gpus


def test_one_agent_per_gpu_each_seeing_only_its_gpu():
    specs = agent_specs("me/proj/abc123", ("0", "2"), "/bin/wandb", {"PATH": "/usr/bin", "KEEP": "1"},
                        count=3, project="p", entity="e")
    assert [spec.gpu for spec in specs] == ["0", "2"]
    for spec in specs:
        assert spec.argv == ["/bin/wandb", "agent", "--forward-signals", "--count", "3",
                             "--project", "p", "--entity", "e", "me/proj/abc123"]
        assert spec.env["CUDA_VISIBLE_DEVICES"] == spec.gpu
        assert spec.env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
        assert spec.env["KEEP"] == "1"
        # `wandb agent` runs ${interpreter} as plain `python`: make it this environment's
        assert spec.env["PATH"].split(":")[0] == str(Path(sys.executable).parent)


@pytest.mark.parametrize("text, gpus", [("0", ("0",)), ("0,1, 3", ("0", "1", "3"))])
def test_parse_gpus(text, gpus):
    assert parse_gpus(text) == gpus


@pytest.mark.parametrize("text, problem", [("", "separated by commas"), ("0,,1", "separated by commas"),
                                           ("1,1", "may appear once")])
def test_parse_gpus_rejects_malformed_lists(text, problem):
    with pytest.raises(ValueError, match=problem):
        parse_gpus(text)
