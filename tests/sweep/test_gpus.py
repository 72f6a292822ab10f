"""Which GPUs this machine has (from `nvidia-smi -L`), and GPU ids checked against them."""

from __future__ import annotations

import os
import stat
import sys

import pytest

from sslexp.sweep.gpus import Gpus, check_gpu_ids, find_gpus, gpu_slots, parse_listing

LISTING = """GPU 0: NVIDIA H200 (UUID: GPU-8e3d2f7a-0000-1111-2222-333344445555)
GPU 1: NVIDIA H200 (UUID: GPU-1a2b3c4d-0000-1111-2222-333344445555)
  MIG 1g.18gb     Device  0: (UUID: MIG-5f6e7d8c-0000-1111-2222-333344445555)
"""


def write_nvidia_smi(directory, output: str, status: int = 0):
    """A stand-in `nvidia-smi` printing ``output`` for `-L`."""
    directory.mkdir(exist_ok=True)
    script = directory / "nvidia-smi"
    script.write_text(
        f"#!{sys.executable}\nimport sys\nsys.stdout.write({output!r})\nsys.exit({status})\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return directory


def test_the_listing_gives_indices_names_and_uuids():
    gpus = parse_listing(LISTING)
    assert [gpu.index for gpu in gpus] == ["0", "1"]
    assert gpus[0].name == "NVIDIA H200"
    assert gpus[1].ids == {
        "1",
        "GPU-1a2b3c4d-0000-1111-2222-333344445555",
        "MIG-5f6e7d8c-0000-1111-2222-333344445555",
    }


def test_gpus_are_found_with_nvidia_smi_on_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(write_nvidia_smi(tmp_path / "bin", LISTING)))
    assert [gpu.index for gpu in find_gpus().found] == ["0", "1"]


def test_no_nvidia_smi_means_no_gpus(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    gpus = find_gpus()
    assert gpus.found == () and "nvidia-smi" in gpus.problem


def test_known_ids_pass_indices_and_uuids():
    gpus = Gpus(parse_listing(LISTING))
    check_gpu_ids(("0", "1"), gpus)
    check_gpu_ids(("GPU-8e3d2f7a-0000-1111-2222-333344445555",), gpus)


@pytest.mark.parametrize("ids", [("a", "b"), ("2",), ("0", "7")])
def test_unknown_ids_are_refused_listing_the_gpus_present(ids):
    with pytest.raises(ValueError) as raised:
        check_gpu_ids(ids, Gpus(parse_listing(LISTING)))
    message = str(raised.value)
    assert "GPU 0: NVIDIA H200" in message and "GPU 1: NVIDIA H200" in message
    assert all(gpu in message for gpu in ids if gpu not in ("0", "1"))


def test_a_machine_without_gpus_refuses_any_id_and_says_to_leave_the_option_out():
    with pytest.raises(ValueError, match="no GPU.*leave out --gpus"):
        check_gpu_ids(("0",), Gpus((), "nvidia-smi was not found"))


def test_a_failing_nvidia_smi_is_reported(tmp_path, monkeypatch):
    failing = write_nvidia_smi(
        tmp_path / "bin",
        "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n",
        9,
    )
    monkeypatch.setenv("PATH", str(failing) + os.pathsep + os.environ["PATH"])
    with pytest.raises(ValueError, match="couldn't communicate with the NVIDIA driver"):
        check_gpu_ids(("0",), find_gpus())


def test_slots_are_dealt_round_robin_over_the_gpus():
    assert gpu_slots(("0", "1")) == ["0", "1"]
    assert gpu_slots(("0", "1"), per_gpu=2) == ["0", "1", "0", "1"]
    assert gpu_slots(("0", "1"), slots=3) == ["0", "1", "0"]
    assert gpu_slots((), slots=2) == [None, None]


@pytest.mark.parametrize(
    "gpus, per_gpu, slots, problem",
    [((), 2, None, "--per-gpu"), (("0",), 2, 3, "--per-gpu"), ((), None, 0, "at least 1")],
)
def test_impossible_slot_requests_say_which_option_to_change(gpus, per_gpu, slots, problem):
    with pytest.raises(ValueError, match=problem):
        gpu_slots(gpus, per_gpu, slots)
