"""The HTML report opened in headless Chromium: it renders, with no console
messages (the report has no scripts, so any message means a broken resource)."""

import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

CHROMIUM = next(
    (
        shutil.which(name)
        for name in ("chromium", "chromium-browser", "google-chrome")
        if shutil.which(name)
    ),
    None,
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (Debian: apt-get install chromium); CI installs it",
)
CONSOLE_LINE = re.compile(r":CONSOLE[^\]]*\]\s*(.*)")


def run_chromium(tmp_path, page, *arguments) -> subprocess.CompletedProcess:
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        *arguments,
        page.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def console_messages(stderr: str) -> list[str]:
    return [match.group(1) for match in map(CONSOLE_LINE.search, stderr.splitlines()) if match]


@pytest.mark.slow
def test_report_renders_with_plots_and_tables_and_no_console_errors(built_report, tmp_path):
    dumped = run_chromium(tmp_path, built_report.html, "--dump-dom")
    assert console_messages(dumped.stderr) == []
    dom = dumped.stdout
    assert dom.count('<img src="data:image/png;base64,') == 6
    for table in ("headline", "efficiency", "runs-table", "missing", "failed", "fingerprints"):
        assert f'<table id="{table}">' in dom, table

    screenshot = tmp_path / "report.png"
    shot = run_chromium(
        tmp_path, built_report.html, "--window-size=1280,2400", f"--screenshot={screenshot}"
    )
    assert console_messages(shot.stderr) == []
    pixels = np.asarray(Image.open(screenshot).convert("RGB"), dtype=np.float64)
    assert pixels.shape[:2] == (2400, 1280)
    assert pixels.std() > 20, "the screenshot is blank"
    distinct = np.unique(pixels.reshape(-1, 3)[::97].astype(np.uint8), axis=0)
    assert len(distinct) > 50, "the screenshot shows almost no content"


def test_console_errors_would_be_noticed(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text(
        '<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body>'
        '<script>console.error("deliberate failure")</script></body></html>'
    )
    messages = console_messages(run_chromium(tmp_path, page, "--dump-dom").stderr)
    assert any("deliberate failure" in message for message in messages)
