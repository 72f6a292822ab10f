"""The cross-machine rule for one backbone, against a stand-in W&B API and a fake clock."""

from __future__ import annotations

import json

import pytest

from sslexp.runs.record import read_record
from sslexp.training.shared_backbones import BackboneWaitTimeout, SharedBackbones
from tests.wandb_standins.public_api import FakeApi

KEY = "k1"


def pretrain_record(key: str = KEY) -> bytes:
    return json.dumps(
        {"kind": "pretrain", "state": "finished", "key": key, "best_val_accuracy": 0.9}
    ).encode()


def deliver(api: FakeApi, run, key: str = KEY) -> None:
    """What a pretraining that finished does: log backbone and record, end the run."""
    api.log_artifact(
        run, f"backbone-{key}", {"backbone.keras": b"keras", "results.json": pretrain_record(key)}
    )
    run.state = "finished"


class World:
    """The W&B project, a clock, and events that happen at given times."""

    def __init__(self):
        self.api = FakeApi()
        self.now = 0.0
        self.events: list[tuple[float, callable]] = []
        self.pretrained_here: list[str] = []
        self.messages: list[str] = []

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        for when, action in sorted(self.events, key=lambda event: event[0]):
            if when <= self.now:
                self.events.remove((when, action))
                action()

    def rule(self, wait_s: float = 600) -> SharedBackbones:
        return SharedBackbones(
            "sslexp",
            "team",
            wait_s=wait_s,
            poll_s=60,
            api_factory=lambda: self.api,
            sleep=self.sleep,
            clock=lambda: self.now,
            echo=self.messages.append,
        )

    def pretrain(self, on_start):
        """This machine's pretraining: its W&B run is the claim, checked right after init."""
        run = self.api.add_run(
            f"mine-{len(self.pretrained_here)}",
            job_type="pretrain",
            state="running",
            config={"backbone_key": KEY},
        )
        self.pretrained_here.append(run.id)
        try:
            on_start(run)
        except Exception:
            run.state = "finished"
            raise
        deliver(self.api, run)
        return "pretrained here"

    def other_claim(self, delivers_after: float | None, crashes_after: float | None = None):
        run = self.api.add_run(
            "other", job_type="pretrain", state="running", config={"backbone_key": KEY}
        )
        if delivers_after is not None:
            self.events.append((delivers_after, lambda: deliver(self.api, run)))
        if crashes_after is not None:
            self.events.append((crashes_after, lambda: setattr(run, "state", "crashed")))
        return run


@pytest.fixture
def world():
    return World()


def test_a_logged_backbone_is_downloaded_not_pretrained(world, tmp_path):
    deliver(world.api, world.api.add_run("earlier", job_type="pretrain"))
    record = world.rule().obtain(KEY, tmp_path / "cache", world.pretrain)
    assert world.pretrained_here == []
    assert record.artifact == "team/sslexp/backbone-k1:v0"
    assert (tmp_path / "cache" / "backbone.keras").read_bytes() == b"keras"
    assert read_record(tmp_path / "cache").artifact == "team/sslexp/backbone-k1:v0"


def test_nobody_has_it_so_it_is_pretrained_here(world, tmp_path):
    assert world.rule().obtain(KEY, tmp_path, world.pretrain) == "pretrained here"
    assert world.pretrained_here == ["mine-0"] and world.now == 0


def test_a_running_claim_is_waited_for(world, tmp_path):
    world.other_claim(delivers_after=180)
    world.rule().obtain(KEY, tmp_path, world.pretrain)
    assert world.pretrained_here == [] and world.now == 180
    assert "W&B run(s) other are pretraining it" in world.messages[0]


def test_a_claim_that_dies_is_taken_over(world, tmp_path):
    world.other_claim(delivers_after=None, crashes_after=120)
    assert world.rule().obtain(KEY, tmp_path, world.pretrain) == "pretrained here"
    assert world.now == 120


def test_waiting_ends_with_a_message_naming_the_claim(world, tmp_path):
    world.other_claim(delivers_after=10_000)
    with pytest.raises(BackboneWaitTimeout, match=r"within 600 s while run\(s\) other claimed"):
        world.rule(wait_s=600).obtain(KEY, tmp_path, world.pretrain)
    assert world.pretrained_here == []


def test_of_two_simultaneous_claims_the_later_yields_and_waits(world, tmp_path):
    other = world.other_claim(delivers_after=240)
    real_runs = world.api.runs
    looks = []

    def first_look_misses_the_other_claim(*args, **kwargs):
        looks.append(1)
        return [] if len(looks) == 1 else real_runs(*args, **kwargs)

    world.api.runs = first_look_misses_the_other_claim
    world.rule().obtain(KEY, tmp_path, world.pretrain)
    assert world.pretrained_here == ["mine-0"]  # it claimed, saw the earlier claim and yielded
    assert world.api._runs[-1].state == "finished" and other.state == "finished"
    assert any("claimed backbone k1 first" in message for message in world.messages)
    assert world.now == 240
