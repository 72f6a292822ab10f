"""One rule for where W&B runs go, whatever the command."""

from __future__ import annotations

import pytest

from sslexp.runs.wandb_target import SweepPath, WandbTarget, resolve_target

SWEEP_RUN = {"WANDB_SWEEP_ID": "abc", "WANDB_ENTITY": "acme-team", "WANDB_PROJECT": "rotnet-study"}


def test_without_anything_the_default_entity_and_project_sslexp():
    assert resolve_target(environ={}) == WandbTarget(None, "sslexp")


def test_the_option_beats_sslexps_variable_which_beats_wandbs():
    environ = {"SSLEXP_PROJECT": "mine", "WANDB_PROJECT": "theirs", "WANDB_ENTITY": "team"}
    assert resolve_target(project="asked", environ=environ) == WandbTarget("team", "asked")
    assert resolve_target(environ=environ) == WandbTarget("team", "mine")
    assert resolve_target(environ={"WANDB_PROJECT": "theirs"}) == WandbTarget(None, "theirs")


def test_inside_a_sweep_run_the_sweeps_entity_and_project_win_over_options():
    target = resolve_target("me", "sslexp", environ={**SWEEP_RUN, "SSLEXP_PROJECT": "other"})
    assert target == WandbTarget("acme-team", "rotnet-study")


def test_a_child_process_is_given_the_target_as_options():
    assert WandbTarget("acme-team", "rotnet-study").arguments() == [
        "--project=rotnet-study", "--entity=acme-team"]
    assert WandbTarget(None, "p").arguments() == ["--project=p"]


@pytest.mark.parametrize("text, parsed", [
    ("acme-team/rotnet-study/x1y2", SweepPath("x1y2", "rotnet-study", "acme-team")),
    ("rotnet-study/x1y2", SweepPath("x1y2", "rotnet-study", None)),
    ("x1y2", SweepPath("x1y2")),
])
def test_a_sweep_path_names_as_much_as_it_gives(text, parsed):
    assert SweepPath.parse(text) == parsed


@pytest.mark.parametrize("text", ["", "a//b", "a/b/c/d"])
def test_a_malformed_sweep_path_is_refused_with_the_expected_form(text):
    with pytest.raises(ValueError, match="ENTITY/PROJECT/SWEEP_ID"):
        SweepPath.parse(text)


def test_the_sweeps_path_beats_the_options_for_its_target():
    path = SweepPath.parse("acme-team/rotnet-study/x1y2")
    assert path.target("me", "sslexp", environ={}) == WandbTarget("acme-team", "rotnet-study")
    assert path.full(path.target(environ={})) == "acme-team/rotnet-study/x1y2"
    assert SweepPath.parse("x1y2").target(environ={"SSLEXP_ENTITY": "acme-team"}).path() == (
        "acme-team/sslexp")

