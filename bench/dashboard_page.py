"""The dashboard in the system Chromium over a large history: time to interactive, first render,
filter-change redraws, page weight. Not part of `scripts/bench` (it needs Chromium and
Playwright: `pip install -e '.[bench]'`, Debian `chromium`); run it by itself:

    python -m bench.dashboard_page                      # 500 services, a year, 5 runs
    python -m bench.dashboard_page --services 50 --events 20000 --runs 2   # quick look

The server is the embedded read API and dashboard (the routes `metricsync serve` mounts) over an
engine holding `--events` events of `--services` services spread over 365 days (the history of
scenario 5), served by uvicorn on loopback in a forked child process; the services are put in 20
teams. Each figure is the median of `--runs` page loads, each in a fresh browser
context (empty cache):

* first render: navigation start -> the tiles are in the DOM (`metricsync:tiles` mark);
* time to interactive: navigation start -> every panel drawn and the page idle (`metricsync:ready`);
* redraws: a filter changed through its control -> the page's refresh finished and painted (the
  page's own timing of that refresh, which starts in the control's change handler); for the window
  change two figures: the main panels drawn (all but the insights: `data-panels="ready"`) and
  everything drawn, the insights included (`data-state="ready"`);
* table: a sort header or "Show all" clicked -> the next frame (the services table draws 100 rows,
  "Show all" the rest);
* page weight: bytes on the wire (gzip) of the page, its scripts and styles, and of the data.

Each figure is printed with its median, p90 (inclusive quantiles), range and the runs in order: the runs
share one server, so the first run's reads are the cold ones (the engine keeps what a read derives per
deployment until the service's next event). `--gc-freeze` (an experiment) calls gc.freeze() in the server
once the engine is built.
"""

from __future__ import annotations

import argparse
import gc
import logging
import multiprocessing
import os
import socket
import statistics
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette

from bench.engine_history import build
from metricsync.dashboard import StreamHub, dashboard_routes
from metricsync.embedded.web_app import LiveEngineSource
from metricsync.web.read_api import ReadApi
from schemas.catalog import ServiceCatalog, ServiceEntry

log = logging.getLogger(__name__)

TEAMS = 20
CHROMIUM = "/usr/bin/chromium"


def _app(services: int, events: int) -> tuple[Starlette, list[str], list[str]]:
    end = datetime.now(UTC).replace(microsecond=0)
    engine, _ = build(events, 0, 0, services, end)
    names = sorted(s.service for s in engine.services())
    catalog = ServiceCatalog(
        services={name: ServiceEntry(team=f"team-{i % TEAMS:02d}") for i, name in enumerate(names)}
    )
    api = ReadApi(LiveEngineSource(lambda: engine), catalog, None, lambda: datetime.now(UTC))
    app = Starlette(routes=api.routes() + dashboard_routes(api, StreamHub()))
    return app, names, sorted(catalog.teams())


def _serve_forever(app: Starlette, sock: socket.socket, gc_freeze: bool = False) -> None:
    import uvicorn

    if gc_freeze:  # an experiment: the engine's objects out of the collector's full passes (gc.freeze)
        gc.collect()
        gc.freeze()

    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    server.run(sockets=[sock])


@contextmanager
def _served(app: Starlette, gc_freeze: bool = False) -> Iterator[str]:
    """The app in a forked child process (its own GIL, as `metricsync serve` would be), on loopback."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    child = multiprocessing.get_context("fork").Process(target=_serve_forever, args=(app, sock, gc_freeze), daemon=True)
    child.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(base + "/api/v1/status", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or not child.is_alive():
                    raise
                time.sleep(0.1)
        yield base
    finally:
        child.terminate()
        child.join(15)
        sock.close()


def _mark(page: Any, name: str) -> float:
    value = page.evaluate(f"performance.getEntriesByName({name!r})[0]?.startTime ?? -1")
    return float(value)


def _weights(page: Any) -> tuple[int, int]:
    """(assets, data) bytes transferred: the document, scripts and styles vs the /api/ responses."""
    entries = page.evaluate(
        "[...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]"
        ".map(e => [e.name, e.transferSize, e.encodedBodySize])"
    )
    assets = sum(int(size) for name, size, _ in entries if "/api/" not in name)
    data = sum(int(size) for name, size, _ in entries if "/api/" in name and "/api/v1/stream" not in name)
    return assets, data


def _refresh_ms(page: Any, selector: str, value: str | None) -> tuple[float, float]:
    """Select `value` in the control `selector` (or click it when None); the page's times for that refresh:
    (main panels drawn, everything drawn). The main panels are all but the insights (`data-panels`)."""
    generation = int(page.get_attribute("body", "data-generation") or 0)
    if value is None:
        page.click(selector)
    else:
        page.select_option(selector, value)
    page.wait_for_selector(f'body[data-state=ready]:not([data-generation="{generation}"])', state="attached")
    timing = page.evaluate("window.metricsync.timings.at(-1)")
    return float(timing["panels"]), float(timing["total"])


def _timed_click(page: Any, selector: str) -> float:
    """Click, then the time in the page from the click to the next frame painted after it."""
    elapsed: float = page.evaluate(
        """selector => new Promise(resolve => {
            const started = performance.now();
            document.querySelector(selector).click();
            requestAnimationFrame(() => setTimeout(() => resolve(performance.now() - started), 0));
        })""",
        selector,
    )
    return elapsed


def measure(base: str, names: list[str], teams: list[str], runs: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    figures: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        figures.setdefault(name, []).append(value)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for run in range(runs):
                context = browser.new_context(viewport={"width": 1400, "height": 900})
                page = context.new_page()
                page.goto(base + "/")
                page.wait_for_selector("body[data-state=ready]", state="attached", timeout=60_000)
                add("first render (tiles), ms", _mark(page, "metricsync:tiles"))
                add("time to interactive, ms", _mark(page, "metricsync:ready"))
                assets, data = _weights(page)
                add("page weight: page, scripts, styles (gzip), kB", assets / 1000)
                add("page weight: first load's data (gzip), kB", data / 1000)
                rows = page.locator("table.services tbody tr").count()
                if rows != min(100, len(names)) or page.inner_text("#services-count") != f"{len(names)} services":
                    raise RuntimeError(f"the services table shows {rows} rows of {page.inner_text('#services-count')}")
                steps = [
                    ("service picked", "#f-service", names[(run * 37) % len(names)]),
                    ("all services again", "#f-service", ""),
                    ("team picked", "#f-team", teams[run % len(teams)]),
                    ("team cleared", "#f-team", ""),
                    ("window 30 -> 90 days", "#f-window", "90"),
                    ("interval week -> day", "[data-interval=day]", None),
                ]
                for name, selector, value in steps:
                    panels, total = _refresh_ms(page, selector, value)
                    if selector == "#f-window":
                        add(f"redraw: {name}, main panels drawn, ms", panels)
                        add(f"redraw: {name}, everything drawn (incl. insights), ms", total)
                    else:
                        add(f"redraw: {name}, ms", total)
                add("table sort, ms", _timed_click(page, "button[data-sort=lead_time]"))
                add(f"table: show all {len(names)} rows, ms", _timed_click(page, "#services-table button.more"))
                context.close()
        finally:
            browser.close()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=500)
    parser.add_argument("--events", type=int, default=300_000, help="events over 365 days (default 300,000)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="experiment: gc.freeze() in the server once the engine is built (no full collection walks it)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    started = time.perf_counter()
    log.info("load average at the start: %s", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    app, names, teams = _app(args.services, args.events)
    log.info("engine with %d services ready in %.0f s", len(names), time.perf_counter() - started)
    with _served(app, args.gc_freeze) as base:
        figures = measure(base, names, teams, args.runs)
    print(f"\n{len(names)} services, {args.events:,} events over 365 days, median of {args.runs} runs (min-max)\n")
    print("| figure | median | p90 | range | runs in order |\n|---|---|---|---|---|")
    for name, values in figures.items():
        p90 = statistics.quantiles(values, n=10, method="inclusive")[-1] if len(values) > 1 else values[0]
        runs = " ".join(f"{v:.0f}" for v in values)
        spread = f"{min(values):.1f}-{max(values):.1f}"
        print(f"| {name} | {statistics.median(values):.1f} | {p90:.1f} | {spread} | {runs} |")
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
