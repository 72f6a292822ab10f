"""The fake W&B server fails where the server would: unknown operations, queries other than
the ones wandb ships, missing variables, and answers the client's own models reject."""

from __future__ import annotations

from tests.wandb_standins.operations import (
    answer_problems,
    request_problems,
    shipped_operations,
)
from tests.wandb_standins.server import FakeBackend


def test_an_unknown_operation_is_an_error_and_listed():
    backend = FakeBackend()
    answer = backend.graphql("DeleteEverything", "mutation DeleteEverything { x }", {})
    assert answer["data"] is None and "DeleteEverything" in answer["errors"][0]["message"]
    assert backend.unknown == [("graphql", "DeleteEverything")]


def test_a_shipped_operation_must_be_sent_as_shipped():
    text = shipped_operations()["GetSweep"].text
    assert request_problems("GetSweep", text, {"name": "s1"}) == []
    (problem,) = request_problems("GetSweep", text.replace("bestLoss", "bestLos"),
                                  {"name": "s1"})
    assert "differs from the one wandb ships" in problem


def test_fields_the_client_strips_for_an_older_server_may_be_missing():
    text = shipped_operations()["ArtifactByID"].text
    assert "digestAlgorithm @include(if: true)" in text
    assert request_problems("ArtifactByID", text.replace(
        "digestAlgorithm @include(if: true)", ""), {"id": "a1"}) == []


def test_required_variables_must_be_sent():
    text = shipped_operations()["GetSweep"].text
    (problem,) = request_problems("GetSweep", text, {"project": "p"})
    assert "required variables missing: ['name']" in problem
    assert request_problems("Custom", "query Custom($a: Int!, $b: Int = 1) { x }",
                            {"a": 1}) == []


def test_an_answer_the_clients_model_rejects_is_a_problem():
    assert answer_problems("GetSweep", {"project": {"sweep": None}}) == []
    (problem,) = answer_problems("GetSweep", {"project": {"sweep": {"name": "s1"}}})
    assert "does not fit wandb's model" in problem


def test_the_backends_own_answers_fit_the_clients_models():
    backend = FakeBackend()
    backend.add_sweep("s1", [], entity="acme-team", project="rotnet-study")
    text = shipped_operations()["GetSweep"].text
    variables = {"name": "s1", "entity": "acme-team", "project": "rotnet-study"}
    assert backend.graphql("GetSweep", text, variables)["data"]["project"]["sweep"]["name"] == "s1"
    backend.assert_clean()
