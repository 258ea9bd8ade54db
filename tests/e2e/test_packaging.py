"""Packaging: `metricsync --version`, `python -m metricsync`, an SPDX license expression."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.support.process import METRICSYNC

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("command", [[METRICSYNC], [sys.executable, "-m", "metricsync"]], ids=["script", "module"])
def test_version(command: list[str]) -> None:
    done = subprocess.run([*command, "--version"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"metricsync {version('metricsync')}"


def test_license_is_an_spdx_expression_with_its_file() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"  # a string (PEP 639), not the deprecated table
    assert all((REPO / name).is_file() for name in project["license-files"])
