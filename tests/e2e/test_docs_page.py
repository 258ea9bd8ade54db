"""`/docs` renders in a real browser (headless Chromium) under its Content-Security-Policy: the vendored
Swagger UI loads from this origin only, runs, and lists every documented operation."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.embedded import Embedded

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_docs_page_renders_every_operation(tmp_path: Path) -> None:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing (.ci/run installs the Debian package)")
        pytest.skip("chromium is not installed")
    server = Embedded(tmp_path)
    server.start()
    try:
        document = httpx.get(f"{server.base}/openapi.json", timeout=10).json()
        dump = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                f"--user-data-dir={tmp_path / 'chromium'}",
                "--virtual-time-budget=10000",
                "--dump-dom",
                f"{server.base}/docs",
            ],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
    finally:
        server.stop()
    assert dump.returncode == 0, dump.stderr[-2000:]
    rendered = set(re.findall(r'data-path="([^"]+)"', dump.stdout))
    assert rendered == set(document["paths"]), dump.stdout[-2000:]
    assert "MetricSync" in dump.stdout
