"""MCP on a real `metricsync serve`: streamable HTTP at /mcp and `metricsync mcp` on stdio, each called
with the SDK's own client; every tool answers what the read API does. The demo's simulated stream (PRs,
reviews) gives the lead-time breakdown and at least three findings."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters

from tests.support.demo import RECENT as WINDOW
from tests.support.demo import demo_requests
from tests.support.embedded import Embedded
from tests.support.mcp_check import check_tools
from tests.support.process import METRICSYNC, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def feed(server: Embedded) -> None:
    for request in demo_requests():
        response = server.post(request)
        assert response.status_code == 202, response.text
    wait_until("the pipeline to catch up", server.caught_up, timeout=120)


def test_mcp_over_http_and_stdio(embedded: Embedded) -> None:
    feed(embedded)
    breakdown = httpx.get(f"{embedded.base}/api/v1/lead-time", params=WINDOW, timeout=15).json()
    assert breakdown["counts"]["pull_requests"] > 10

    async def both() -> None:
        async with Client(f"{embedded.base}/mcp") as over_http:
            assert await check_tools(over_http, embedded.base, WINDOW) >= 3
        stdio = StdioServerParameters(command=METRICSYNC, args=["mcp", "--url", embedded.base])
        async with Client(stdio) as over_stdio:
            assert await check_tools(over_stdio, embedded.base, WINDOW) >= 3

    asyncio.run(both())
