"""Fixtures of the end-to-end tests: a `metricsync serve` process of its own per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.embedded import Embedded


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Embedded]:
    server = Embedded(tmp_path)
    server.start()
    yield server
    if server.process is not None and server.process.alive():
        server.stop()
