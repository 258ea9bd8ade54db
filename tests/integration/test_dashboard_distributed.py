"""The dashboard of the distributed API process (`metricsync ingest --with-api` on Kafka + FerretDB),
in the system Chromium: tiles equal the read API, and a webhook reaches the page through the
normalizer, the worker, the compacted metrics topic and the API process's stream."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.support import scenario
from tests.support.browser import BrowserPage, chromium
from tests.support.distributed import Distributed
from tests.support.process import wait_until
from tests.support.webhooks import github_deployment, github_push, sha_of

pytestmark = [pytest.mark.servers, pytest.mark.browser, pytest.mark.timeout(300)]

API_BLOCK = {"failed_deployment_recovery_time": "failed_deployment_recovery"}  # tile name -> API field
VALUE_FIELD = {
    "deployment_frequency": "per_day",
    "lead_time": "median_seconds",
    "change_failure_rate": "rate",
    "time_to_restore": "median_seconds",
    "failed_deployment_recovery_time": "median_seconds",
    "rework_rate": "rate",
}
LIVE_LIMIT_SECONDS = 10.0  # webhook -> Kafka -> normalizer -> worker -> snapshot + checkpoint -> API -> page


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as opened:
        yield opened


@pytest.fixture
def distributed(tmp_path: Path, kafka_bootstrap: str, mongo_uri: str) -> Iterator[Distributed]:
    system = Distributed(tmp_path / "distributed", kafka_bootstrap, mongo_uri)
    yield system
    # Playwright's sync API keeps an event loop running in this thread; close() runs its own
    closer = threading.Thread(target=system.close)
    closer.start()
    closer.join(120)


def api_values(system: Distributed, **params: str) -> dict[str, float | None]:
    response = system.get("/api/v1/dora", **scenario.WINDOW, **params)
    assert response.status_code == 200, response.text
    body = response.json()
    return {metric: body[API_BLOCK.get(metric, metric)][field] for metric, field in VALUE_FIELD.items()}


def tile_numbers(page: BrowserPage) -> dict[str, float | None]:
    return {k: (float(v) if v else None) for k, v in page.tile_values().items()}


def test_the_dashboard_of_the_distributed_api_process(distributed: Distributed, browser: Browser) -> None:
    distributed.start()
    for request in scenario.requests():
        assert distributed.post(request).status_code == 202
    wait_until(
        "the workers to apply the scenario",
        lambda: api_values(distributed)["deployment_frequency"] == 5 / 7,
        timeout=90,
        interval=0.5,
    )
    page = BrowserPage.open(browser)
    try:
        page.goto(f"{distributed.base}/?service=acme/shop&window=custom&from=2026-03-01&to=2026-03-07")
        assert tile_numbers(page) == api_values(distributed, service="acme/shop")
        page.page.wait_for_selector("#live[data-state=live]", timeout=10_000)
        page.screenshot("distributed-acme-shop")

        c5 = sha_of("shop-c5")
        push = github_push("acme/shop", sha_of("shop-c4"), [(c5, scenario.T + 5 * scenario.H)])
        assert distributed.post(push).status_code == 202
        sent = time.monotonic()
        deploy = github_deployment("acme/shop", 104, c5, scenario.T + 6 * scenario.H)
        assert distributed.post(deploy).status_code == 202
        page.page.wait_for_selector(
            f"#tiles [data-metric=deployment_frequency][data-value='{3 / 7!r}']",
            state="attached",
            timeout=LIVE_LIMIT_SECONDS * 1000,
        )
        latency = time.monotonic() - sent
        print(f"distributed webhook -> tile: {latency:.2f} s")
        assert tile_numbers(page) == api_values(distributed, service="acme/shop")
        assert page.problems() == [], page.problems()
    finally:
        page.page.close()
