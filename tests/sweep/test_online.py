"""GPU lists as typed, and the sweep id read from `wandb sweep`'s output."""

from __future__ import annotations


import pytest

from sslexp.sweep.online import parse_gpus, parse_sweep_output


@pytest.mark.parametrize("text, gpus", [("0", ("0",)), ("0,1, 3", ("0", "1", "3"))])
def test_parse_gpus(text, gpus):
    assert parse_gpus(text) == gpus


@pytest.mark.parametrize("text, problem", [("", "separated by commas"), ("0,,1", "separated by commas"),
                                           ("1,1", "may appear once")])
def test_parse_gpus_rejects_malformed_lists(text, problem):
    with pytest.raises(ValueError, match=problem):
        parse_gpus(text)


REAL_OUTPUT = (
    "wandb: Creating sweep from: sweeps/demo.yaml\n"
    "wandb: Creating sweep with ID: \x1b[33mab12cd34\x1b[0m\n"
    "wandb: View sweep at: \x1b[34m\x1b[4mhttps://wandb.ai/me/proj/sweeps/ab12cd34\x1b[0m\n"
    "wandb: Run sweep agent with: \x1b[33mwandb agent me/proj/ab12cd34\x1b[0m\n"
)


def test_the_agent_line_gives_the_full_sweep_path():
    assert parse_sweep_output(REAL_OUTPUT) == ("ab12cd34", "me/proj/ab12cd34")


def test_the_id_line_is_enough():
    assert parse_sweep_output("wandb: Creating sweep with ID: zz99yy88\n") == ("zz99yy88", "zz99yy88")


def test_no_sweep_in_an_error_output():
    assert parse_sweep_output("wandb: ERROR api_key not configured (no-tty)\n") is None
