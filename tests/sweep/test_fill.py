"""Which grid points `sslexp sweep fill` runs again: those without a finished run."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from sslexp.sweep.fill import open_points

TRAIN = ["${env}", "${interpreter}", "-m", "sslexp", "train", "${args}"]


class Api:
    """The two reads fill makes: the sweep's configuration and its runs."""

    def __init__(self, config, runs):
        self.config, self._runs, self.asked = config, runs, []

    def sweep(self, path):
        return SimpleNamespace(config=self.config)

    def runs(self, path, filters=None):
        self.asked.append((path, filters))
        return self._runs


def run(run_id, state, **config):
    return SimpleNamespace(id=run_id, state=state, config=config)


def grid(command=TRAIN, method="grid"):
    return {"name": "g", "method": method, "command": command,
            "parameters": {"method": {"values": ["ssl", "scratch"]},
                           "fold": {"values": [0, 1]}, "dataset": {"value": "digits"}}}


def test_points_without_a_finished_run_are_open_with_what_became_of_their_tries():
    api = Api(grid(), [run("a", "finished", method="ssl", fold=0),
                       run("b", "failed", method="ssl", fold=1),
                       run("c", "killed", method="scratch", fold="0"),
                       run("d", "finished", method="scratch", fold=0.0)])
    spec, points = open_points(api, "acme-team/rotnet-study/swp1")
    assert [point.varied for point in points] == [{"method": "ssl", "fold": 1},
                                                  {"method": "scratch", "fold": 1}]
    assert points[0].parameters["dataset"] == "digits"
    assert [point.describe() for point in points] == [
        "method=ssl fold=1 (tried: b (failed))", "method=scratch fold=1 (never run)"]
    assert api.asked == [("acme-team/rotnet-study", {"sweep": "swp1"})]


@pytest.mark.parametrize("config, problem", [
    (grid(method="random"), "only a grid sweep"),
    (grid(command=["python", "other.py", "${args}"]), "fills only sweeps of that command")])
def test_only_a_grid_of_sslexp_train_runs_can_be_filled(config, problem):
    with pytest.raises(ValueError, match=problem):
        open_points(Api(config, []), "acme-team/rotnet-study/swp1")
