"""The training core under JAX and PyTorch, in a process where TensorFlow cannot be
imported: sslexp needs TensorFlow only to load tfds data sets. Each backend's test runs
where that backend is installed (`make setup` installs JAX; PyTorch is the user's choice)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import sslexp
from sslexp.runs.record import read_record

pytestmark = pytest.mark.slow

# Runs the sslexp CLI as if TensorFlow and TensorFlow Datasets were not installed: the
# path finder does not find them, so imports fail and importlib.util.find_spec says None.
WITHOUT_TENSORFLOW = """
from importlib.machinery import PathFinder

find_on_path = PathFinder.find_spec

def find_spec(name, path=None, target=None):
    if name.split(".")[0] in ("tensorflow", "tensorflow_datasets"):
        return None
    return find_on_path(name, path, target)

PathFinder.find_spec = staticmethod(find_spec)
from sslexp.cli import main
main(prog_name="sslexp")
"""
TINY = ["--dataset=digits", "--image-size=8", "--depth=8", "--width=4", "--wandb-mode=disabled"]


def sslexp_under(backend: str, *arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    source = str(Path(sslexp.__file__).parent.parent)
    env = {**os.environ, "KERAS_BACKEND": backend, "WANDB_MODE": "disabled",
           "PYTHONPATH": os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-c", WITHOUT_TENSORFLOW, *arguments], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_pretrain_and_train_run_without_tensorflow(backend, tmp_path):
    pytest.importorskip(backend)
    cache = f"--cache-dir={tmp_path / 'cache'}"  # shared: the second process reuses compilations
    pretrained = sslexp_under(backend, "pretrain", *TINY, "--epochs=1", "--rotations=random", cache,
                                  f"--output-dir={tmp_path / 'pretrain'}", cwd=tmp_path)
    assert pretrained.returncode == 0, pretrained.stderr[-3000:]
    trained = sslexp_under(backend, "train", *TINY, "--budget=matched", "--max-updates=20",
                               "--label-fraction=0.1", cache,
                               f"--pretrained={tmp_path / 'pretrain' / 'backbone.keras'}",
                               f"--output-dir={tmp_path / 'train'}", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr[-3000:]
    for run in ("pretrain", "train"):
        record = read_record(tmp_path / run)
        assert record.is_finished and record.model["runtime"]["backend"] == backend
    assert 0 <= read_record(tmp_path / "train").test_accuracy <= 1
    if backend == "jax":  # JAX's persistent compilation cache; PyTorch runs eagerly here
        assert any((tmp_path / "cache" / "compiled" / "jax").iterdir())
