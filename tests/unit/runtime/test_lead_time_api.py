"""`/api/v1/lead-time`, `/api/v1/insights`, `/dora/series?include=stages` and `/mcp` over the embedded app,
in process, fed with the simulator's webhooks (PRs, reviews, pushes, deployments, alerts): the API answers
what the engine computes from the same deliveries, and the MCP tools (the SDK's own client, over streamable
HTTP) answer what the API does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from pydantic import SecretStr

from metricsync.settings import Settings
from metricsync.simulation.send import credentials
from metricsync.simulation.team import SimulationPlan, plan_webhooks
from metricsync.web.mcp import TOOL_NAMES
from tests.support.asgi import loaded_app
from tests.support.webhooks import ALERTMANAGER_TOKEN, GITHUB_SECRET, JENKINS_TOKEN, signed
from tests.unit.runtime.test_simulate_leadtime import NOW, demo_engine

API_TOKEN = "read-api-token"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
WINDOW = {"from": (NOW - timedelta(days=30)).isoformat(), "to": NOW.isoformat()}
RECENT = {"from": (NOW - timedelta(days=14)).isoformat(), "to": NOW.isoformat()}


@pytest.fixture
async def app_client(tmp_path: Path) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    settings = Settings(
        data_dir=tmp_path / "data",
        github_secret=SecretStr(GITHUB_SECRET),
        jenkins_token=SecretStr(JENKINS_TOKEN),
        alertmanager_token=SecretStr(ALERTMANAGER_TOKEN),
        api_token=SecretStr(API_TOKEN),
    )
    hooks = plan_webhooks(SimulationPlan(days=30, services=3, seed=7), NOW)
    async with loaded_app(settings, NOW, signed(hooks, credentials(settings)), AUTH) as (app, c):
        yield app, c


async def get(client: httpx.AsyncClient, path: str, **params: str) -> Any:
    response = await client.get(path, params=params, headers=AUTH)
    assert response.status_code == 200, response.text
    return response.json()


async def test_lead_time_is_the_engines(app_client: tuple[Any, httpx.AsyncClient]) -> None:
    _, client = app_client
    body = await get(client, "/api/v1/lead-time", limit="3", **WINDOW)
    breakdown, slowest = demo_engine().lead_time(None, "production", NOW - timedelta(days=30), NOW, 3)
    assert body["stages"] == [s.model_dump(mode="json") for s in breakdown.stages]
    assert body["counts"] == breakdown.counts.model_dump()
    assert [c["sha"] for c in body["slowest"]] == [c.sha for c in slowest]
    assert [s["stage"] for s in body["stages"]] == ["coding", "pickup", "review", "deploy"]
    assert body["scope"] == {
        "service": None,
        "team": None,
        "environment": "production",
        "from": "2026-02-18T18:00:00Z",
        "to": "2026-03-20T18:00:00Z",
        "retained_from": None,
        "history_from": None,  # the demo's deployments began before the window
    }
    one = await get(client, "/api/v1/lead-time", service="acme/payments", **WINDOW)
    assert one["scope"]["service"] == "acme/payments"
    assert 0 < one["counts"]["pull_requests"] < body["counts"]["pull_requests"]


async def test_insights_default_to_the_last_14_days(app_client: tuple[Any, httpx.AsyncClient]) -> None:
    _, client = app_client
    body = await get(client, "/api/v1/insights")
    assert body["scope"]["from"] == "2026-03-06T18:00:00Z"
    assert body["compared_with"] == {"from": "2026-02-20T18:00:00Z", "to": "2026-03-06T18:00:00Z"}
    want = demo_engine().insights(
        None, "production", NOW - timedelta(days=14), NOW, scope={}, unknown_service="unknown", dead_letters=0
    )
    assert body["findings"] == [f.model_dump(mode="json") for f in want]
    assert len(body["findings"]) >= 3
    for finding in body["findings"]:
        for link in finding["links"]:
            if link["href"].startswith("/api/v1/"):
                assert (await client.get(link["href"], headers=AUTH)).status_code == 200, link


async def test_series_with_stages(app_client: tuple[Any, httpx.AsyncClient]) -> None:
    _, client = app_client
    plain = await get(client, "/api/v1/dora/series", interval="week", **WINDOW)
    staged = await get(client, "/api/v1/dora/series", interval="week", include="stages", **WINDOW)
    assert [{k: v for k, v in p.items() if k != "stages"} for p in staged["points"]] == plain["points"]
    assert (
        sum(p["stages"]["counts"]["pull_requests"] for p in staged["points"])
        == (await get(client, "/api/v1/lead-time", **WINDOW))["counts"]["pull_requests"]
    )


BAD_QUERIES = [
    ("/api/v1/lead-time", {"limit": "0"}, "bad_limit"),
    ("/api/v1/lead-time", {"limit": "ten"}, "bad_limit"),
    ("/api/v1/dora/series", {"include": "everything"}, "bad_include"),
    ("/api/v1/insights", {"service": "acme/nothing"}, "unknown_service"),
    ("/api/v1/insights", {"from": "2026-03-20", "to": "2026-03-01"}, "bad_window"),
]


async def test_bad_queries_are_4xx_and_the_token_is_required(app_client: tuple[Any, httpx.AsyncClient]) -> None:
    _, client = app_client
    for path, params, code in BAD_QUERIES:
        response = await client.get(path, params=params, headers=AUTH)
        assert 400 <= response.status_code < 500, (path, params)
        assert response.json()["error"] == code, (path, params)
    assert (await client.get("/api/v1/lead-time")).status_code == 401
    assert (await client.get("/api/v1/insights")).status_code == 401
    assert (await client.post("/mcp", json={})).status_code == 401


async def test_mcp_tools_answer_what_the_api_does(app_client: tuple[Any, httpx.AsyncClient]) -> None:
    app, client = app_client
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://t", headers=AUTH)
    async with http, Client(streamable_http_client("http://t/mcp", http_client=http)) as mcp:
        tools = await mcp.list_tools()
        assert sorted(t.name for t in tools.tools) == sorted(TOOL_NAMES)
        assert all(t.annotations is not None and t.annotations.read_only_hint for t in tools.tools)
        scope = {"service": "acme/payments", "start": WINDOW["from"], "end": WINDOW["to"]}
        api_scope = {"service": "acme/payments", **WINDOW}
        cases: list[tuple[str, str, dict[str, Any], dict[str, str]]] = [
            ("dora_report", "/api/v1/dora", {}, {}),
            ("dora_series", "/api/v1/dora/series", {"interval": "week", "include_stages": True},
             {"interval": "week", "include": "stages"}),
            ("deployments", "/api/v1/deployments", {}, {}),
            ("incidents", "/api/v1/incidents", {}, {}),
            ("lead_time", "/api/v1/lead-time", {"limit": 5}, {"limit": "5"}),
            ("insights", "/api/v1/insights", {}, {}),
        ]  # fmt: skip
        for tool, path, extra, api_extra in cases:
            result = await mcp.call_tool(tool, {**scope, **extra})
            assert not result.is_error, result
            document = dict(result.structured_content or {})
            api_url = document.pop("api_url")
            if tool in ("deployments", "incidents"):
                assert document.pop("next_cursor") is None, tool  # one page holds the service's 30 days
            assert document == await get(client, path, **api_scope, **api_extra), tool
            assert (await client.get(api_url, headers=AUTH)).json() == document, tool
        refused = await mcp.call_tool("lead_time", {"service": "acme/nothing"})
        assert refused.is_error
        assert "unknown_service" in str(refused.content)


async def test_mcp_list_tools_page_with_the_apis_cursor(app_client: tuple[Any, httpx.AsyncClient]) -> None:
    app, client = app_client
    everything = await get(client, "/api/v1/deployments", **WINDOW, limit="1000")
    assert everything["next"] is None
    assert len(everything["deployments"]) > 7
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://t", headers=AUTH)
    async with http, Client(streamable_http_client("http://t/mcp", http_client=http)) as mcp:
        paged: list[Any] = []
        arguments: dict[str, Any] = {"start": WINDOW["from"], "end": WINDOW["to"], "limit": 7}
        pages = 0
        while True:
            result = await mcp.call_tool("deployments", arguments)
            assert not result.is_error, result
            document = dict(result.structured_content or {})
            paged += document["deployments"]
            pages += 1
            if document["next_cursor"] is None:
                break
            assert "cursor=" in document["api_url"] or pages == 1
            arguments = {**arguments, "cursor": document["next_cursor"]}
        assert paged == everything["deployments"]
        assert pages == -(-len(paged) // 7)
