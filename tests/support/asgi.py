"""An embedded app served in-process (httpx over ASGI, with its lifespan): post deliveries, wait until
the pipeline has caught up, then read. For the unit tests of the read API, the dashboard's HTTP side
and the contract, which need the real app but no server process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Protocol

import httpx

from metricsync.embedded.web_app import create_embedded_app
from metricsync.settings import Settings
from metricsync.telemetry.middleware import RequestTimer

CATCH_UP_SECONDS = 60


class Delivery(Protocol):
    """A request to post (tests.support.webhooks.Request; `signed` turns simulated webhooks into them)."""

    @property
    def path(self) -> str: ...
    @property
    def body(self) -> bytes: ...
    @property
    def headers(self) -> Mapping[str, str]: ...


@asynccontextmanager
async def embedded_app(
    settings: Settings, now: datetime | Callable[[], datetime]
) -> AsyncIterator[tuple[RequestTimer, httpx.AsyncClient]]:
    """The embedded app (running) and a client of it; `now` is the app's clock or a fixed moment."""
    clock = now if callable(now) else (lambda: now)
    app = create_embedded_app(settings, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield app, c


async def post_all(client: httpx.AsyncClient, deliveries: Iterable[Delivery]) -> None:
    """Post each delivery; every one must be accepted (202)."""
    for delivery in deliveries:
        response = await client.post(delivery.path, content=delivery.body, headers=dict(delivery.headers))
        assert response.status_code == 202, response.text


async def wait_caught_up(client: httpx.AsyncClient, headers: Mapping[str, str] | None = None) -> None:
    """Until /api/v1/status says `caught_up` (fails after CATCH_UP_SECONDS)."""
    deadline = time.monotonic() + CATCH_UP_SECONDS
    while not (await client.get("/api/v1/status", headers=dict(headers or {}))).json()["caught_up"]:
        assert time.monotonic() < deadline, "pipeline did not catch up"
        await asyncio.sleep(0.02)


@asynccontextmanager
async def loaded_app(
    settings: Settings,
    now: datetime,
    deliveries: Iterable[Delivery],
    headers: Mapping[str, str] | None = None,
) -> AsyncIterator[tuple[RequestTimer, httpx.AsyncClient]]:
    """The embedded app with `deliveries` posted and applied (`headers`: the read API's auth, if any)."""
    async with embedded_app(settings, now) as (app, client):
        await post_all(client, deliveries)
        await wait_caught_up(client, headers)
        yield app, client
