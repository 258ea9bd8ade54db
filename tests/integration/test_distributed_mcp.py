"""Distributed mode on the real Kafka and Mongo-wire servers: `/api/v1/lead-time`, `/api/v1/insights` and
`/mcp` (the SDK's own client, streamable HTTP) on the ingest process that serves the read API, with an API
token; the numbers equal embedded mode's for the same webhooks."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import httpx2
import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client

from tests.integration.test_distributed import post_all
from tests.support.compare import answers
from tests.support.demo import RECENT as WINDOW
from tests.support.demo import demo_requests
from tests.support.distributed import Distributed
from tests.support.embedded import Embedded
from tests.support.mcp_check import check_tools
from tests.support.process import wait_until

pytestmark = [pytest.mark.servers, pytest.mark.timeout(600)]

TOKEN = "distributed-api-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def distributed(tmp_path: Path, kafka_bootstrap: str, mongo_uri: str) -> Iterator[Distributed]:
    system = Distributed(tmp_path / "distributed", kafka_bootstrap, mongo_uri)
    system.env["METRICSYNC_API_TOKEN"] = TOKEN
    yield system
    system.close()


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Embedded]:
    server = Embedded(tmp_path / "embedded")
    server.start()
    yield server
    if server.process is not None and server.process.alive():
        server.stop()


def test_lead_time_insights_and_mcp(distributed: Distributed, embedded: Embedded) -> None:
    stream = demo_requests()
    distributed.start()
    post_all(embedded, stream)
    post_all(distributed, stream)
    wait_until("embedded to catch up", embedded.caught_up, timeout=120)
    scopes: list[dict[str, str]] = [{}, {"service": "acme/payments"}]
    want = answers(embedded.base, scopes, WINDOW)

    try:
        wait_until(
            "distributed answers to equal embedded ones",
            lambda: answers(distributed.base, scopes, WINDOW, AUTH) == want,
            timeout=120,
        )
    except AssertionError:
        raise AssertionError(distributed.logs()) from None
    assert httpx.get(f"{distributed.base}/api/v1/lead-time", timeout=15).status_code == 401
    assert httpx.post(f"{distributed.base}/mcp", json={}, timeout=15).status_code == 401

    async def over_http() -> int:
        http = httpx2.AsyncClient(headers=AUTH, timeout=30)
        async with http, Client(streamable_http_client(f"{distributed.base}/mcp", http_client=http)) as mcp:
            return await check_tools(mcp, distributed.base, WINDOW, AUTH)

    assert asyncio.run(over_http()) >= 3
