"""GPU lists as typed."""

from __future__ import annotations


import pytest

from sslexp.sweep.online import parse_gpus


@pytest.mark.parametrize("text, gpus", [("0", ("0",)), ("0,1, 3", ("0", "1", "3"))])
def test_parse_gpus(text, gpus):
    assert parse_gpus(text) == gpus


@pytest.mark.parametrize("text, problem", [("", "separated by commas"), ("0,,1", "separated by commas"),
                                           ("1,1", "may appear once")])
def test_parse_gpus_rejects_malformed_lists(text, problem):
    with pytest.raises(ValueError, match=problem):
        parse_gpus(text)
