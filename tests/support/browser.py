"""A real browser for the dashboard tests: Debian's Chromium driven by Playwright for Python.

Playwright's own browser download cannot be reached here, so it drives the system Chromium
(`/usr/bin/chromium`, `.ci/run` installs it when missing). Every page records console errors,
page errors, failed requests and HTTP errors; `BrowserPage.problems()` lists them, and the fixture
fails the test when any is left. Screenshots go to test-artifacts/browser/ (git-ignored; CI keeps it).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Response, sync_playwright

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
READY = "body[data-state=ready], body[data-state=empty], body[data-state=error]"


def chromium_path() -> str:
    """The system Chromium; a clear failure (never a skip) when it is missing."""
    for candidate in (os.environ.get("METRICSYNC_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    raise AssertionError("no Chromium: `apt-get install -y chromium` (.ci/run does it) or set METRICSYNC_CHROMIUM")


def launch(playwright: Any) -> Browser:
    browser: Browser = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
    return browser


@contextmanager
def chromium() -> Iterator[Browser]:
    """The system Chromium for a test session (the `browser` fixtures)."""
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class BrowserPage:
    page: Page
    console_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    http_errors: list[str] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    expected_statuses: set[int] = field(default_factory=set)

    @classmethod
    def open(cls, browser: Browser, width: int = 1400, height: int = 900) -> BrowserPage:
        page = browser.new_page(viewport={"width": width, "height": height})
        wrapped = cls(page)
        page.on("console", wrapped._on_console)
        page.on("pageerror", lambda error: wrapped.console_errors.append(f"page error: {error}"))
        page.on("requestfailed", wrapped._on_failed)
        page.on("response", wrapped._on_response)
        page.on("request", lambda request: wrapped.requests.append(request))
        return wrapped

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.console_errors.append(f"console {message.type}: {message.text}")

    def _on_failed(self, request: Request) -> None:
        failure = request.failure or ""
        # the page closes its live stream on purpose when the filters change its scope
        if "/api/v1/stream" in request.url and "ERR_ABORTED" in failure:
            return
        self.failed.append(f"{request.method} {request.url}: {failure}")

    def _on_response(self, response: Response) -> None:
        if response.status >= 400 and response.status not in self.expected_statuses:
            self.http_errors.append(f"{response.status} {response.request.method} {response.url}")

    def problems(self) -> list[str]:
        expected = tuple(f"status of {status} " for status in self.expected_statuses)
        console = [
            m
            for m in self.console_errors
            if not (expected and "Failed to load resource" in m and any(e in m for e in expected))
        ]
        return console + self.failed + self.http_errors

    def goto(self, url: str) -> None:
        self.page.goto(url)
        self.wait_ready()

    def wait_ready(self, timeout_ms: float = 15_000) -> str:
        self.page.wait_for_selector(READY, state="attached", timeout=timeout_ms)
        state: str = self.page.get_attribute("body", "data-state") or ""
        return state

    def wait_refreshed(self, after_generation: int, timeout_ms: float = 10_000) -> None:
        """Until the page finished a refresh later than `after_generation`."""
        # selectors, not wait_for_function: the page's CSP forbids the eval Playwright would need
        self.page.wait_for_selector(
            f'body[data-state=ready]:not([data-generation="{after_generation}"])', state="attached", timeout=timeout_ms
        )

    def generation(self) -> int:
        return int(self.page.get_attribute("body", "data-generation") or 0)

    def tile_values(self) -> dict[str, str]:
        values: dict[str, str] = self.page.eval_on_selector_all(
            "#tiles [data-metric]",
            "tiles => Object.fromEntries(tiles.map(t => [t.dataset.metric, t.dataset.value]))",
        )
        return values

    def screenshot(self, name: str, full_page: bool = True) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path
