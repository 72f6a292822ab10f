"""Sweep directories for the report tests, written by ``sweep_factory``."""

from __future__ import annotations

import pytest

from tests.report import sweep_factory


@pytest.fixture
def sweep_dir(tmp_path):
    """A sweep with one failed and one missing run, no checkpoints (fast)."""
    return sweep_factory.write_sweep(tmp_path)


@pytest.fixture(scope="session")
def built_report(tmp_path_factory):
    """The full HTML report of a sweep whose smallest-fraction pair has real checkpoints."""
    from sslexp.report.build import build_local_report

    root = tmp_path_factory.mktemp("report")
    sweep = sweep_factory.write_sweep(root, with_models=True)
    return build_local_report(
        sweep, image_source=lambda dataset, size: sweep_factory.sample_images()
    )
