"""Fixtures of the browser tests: one Chromium for the package, a fresh page per test that must end
without console errors, failed requests or unexpected HTTP errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.support.browser import BrowserPage, chromium
from tests.support.embedded import Embedded


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    # package, not session: Playwright's sync API keeps its event loop running while it is open, and
    # every asyncio test collected after this package would fail ("Cannot run the event loop while
    # another loop is running")
    with chromium() as opened:
        yield opened


@pytest.fixture
def page(browser: Browser) -> Iterator[BrowserPage]:
    opened = BrowserPage.open(browser)
    yield opened
    problems = opened.problems()
    opened.page.close()
    assert problems == [], "the page logged errors or had failed requests:\n" + "\n".join(problems)


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Embedded]:
    server = Embedded(tmp_path)
    server.start()
    yield server
    if server.process is not None and server.process.alive():
        server.stop()
