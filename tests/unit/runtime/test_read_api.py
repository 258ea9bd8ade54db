"""The read API over the embedded app, in process: scopes, teams, series, drill-downs, errors, token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from metricsync.settings import Settings
from tests.support import scenario
from tests.support.asgi import embedded_app, loaded_app, wait_caught_up
from tests.support.webhooks import ALERTMANAGER_TOKEN, GITHUB_SECRET, JENKINS_TOKEN

API_TOKEN = "read-api-token"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
NOW = datetime(2026, 3, 5, tzinfo=UTC)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    config = tmp_path / "services.toml"
    config.write_text(
        '[services."acme/shop"]\nteam = "web"\n[services."acme/pay"]\naliases = ["payments"]\nteam = "web"\n'
    )
    settings = Settings(
        data_dir=tmp_path / "data",
        config=config,
        github_secret=SecretStr(GITHUB_SECRET),
        jenkins_token=SecretStr(JENKINS_TOKEN),
        alertmanager_token=SecretStr(ALERTMANAGER_TOKEN),
        api_token=SecretStr(API_TOKEN),
    )
    async with loaded_app(settings, NOW, scenario.requests(), AUTH) as (_, c):
        yield c


async def get(client: httpx.AsyncClient, path: str, **params: str) -> Any:
    response = await client.get(path, params=params, headers=AUTH)
    assert response.status_code == 200, response.text
    return response.json()


async def test_token_is_required_when_configured(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/dora")).status_code == 401
    assert (await client.get("/api/v1/dora", headers={"Authorization": "Bearer wrong"})).status_code == 401
    assert (await client.get("/api/v1/dora", headers=AUTH)).status_code == 200
    assert (await client.get("/healthz")).status_code == 200  # health stays open


async def test_team_pools_its_services(client: httpx.AsyncClient) -> None:
    team = await get(client, "/api/v1/dora", team="web", **scenario.WINDOW)
    everything = await get(client, "/api/v1/dora", **scenario.WINDOW)
    assert team["scope"]["team"] == "web"
    assert {k: v for k, v in team.items() if k != "scope"} == {k: v for k, v in everything.items() if k != "scope"}
    assert scenario.mismatches("", team) == []


async def test_service_aliases_resolve_through_the_catalog(client: httpx.AsyncClient) -> None:
    by_alias = await get(client, "/api/v1/dora", service="PAYMENTS", **scenario.WINDOW)
    assert by_alias["scope"]["service"] == "acme/pay"
    assert scenario.mismatches("acme/pay", by_alias) == []


async def test_default_window_is_the_last_30_days(client: httpx.AsyncClient) -> None:
    report = await get(client, "/api/v1/dora", service="acme/shop")
    assert (report["scope"]["from"], report["scope"]["to"]) == ("2026-02-03T00:00:00Z", "2026-03-05T00:00:00Z")
    assert report["deployment_frequency"]["deployments"] == 2


async def test_daily_series_puts_every_deployment_on_its_day(client: httpx.AsyncClient) -> None:
    body = await get(client, "/api/v1/dora/series", interval="day", **scenario.WINDOW)
    points = body["points"]
    assert len(points) == 7  # 2026-03-01 .. 2026-03-07
    deployments = {p["from"][:10]: p["metrics"]["deployment_frequency"]["deployments"] for p in points}
    assert deployments == {f"2026-03-0{d}": (5 if d == 2 else 0) for d in range(1, 8)}
    weekly = (await get(client, "/api/v1/dora/series", interval="week", **scenario.WINDOW))["points"]
    assert [p["from"][:10] for p in weekly] == ["2026-03-01", "2026-03-02"]  # Sunday clipped, then ISO week


async def test_deployments_explain_the_numbers(client: httpx.AsyncClient) -> None:
    body = await get(client, "/api/v1/deployments", service="acme/shop", **scenario.WINDOW)
    deployments = body["deployments"]
    assert [d["deployment_id"] for d in deployments] == ["github:101", "github:102"]
    first, second = deployments
    assert sorted(c["lead_time_seconds"] for c in first["changes"]) == [3600.0, 10800.0, 14400.0]
    assert first["failed"] is True
    assert [c["kind"] for c in first["failure_causes"]] == ["incident"]
    assert first["recovery_seconds"] == 5400.0
    assert [c["lead_time_seconds"] for c in second["changes"]] == [3600.0]
    assert second["failed"] is False
    pay = (await get(client, "/api/v1/deployments", service="acme/pay", **scenario.WINDOW))["deployments"]
    assert [d["failed"] for d in pay] == [False, True, False]
    assert pay[1]["failure_causes"][0]["kind"] == "rollback"
    assert pay[2]["rollback"] is True


async def test_incidents_list_merged_incidents_with_restore_time(client: httpx.AsyncClient) -> None:
    incidents = (await get(client, "/api/v1/incidents", service="acme/shop", **scenario.WINDOW))["incidents"]
    assert len(incidents) == 1
    assert incidents[0]["restore_seconds"] == 3600.0
    assert incidents[0]["failed_deployment_id"] == "github:101"


async def test_services_lists_services_with_their_team(client: httpx.AsyncClient) -> None:
    rows = (await get(client, "/api/v1/services"))["services"]
    assert {s["service"]: s["team"] for s in rows} == {"acme/shop": "web", "acme/pay": "web"}
    assert [s["retained_from"] for s in rows] == [None, None]  # nothing was pruned


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        pytest.param("/api/v1/dora", {"from": "yesterday"}, 400, "bad_time", id="bad-from"),
        pytest.param("/api/v1/dora", {"from": "2026-03-05", "to": "2026-03-01"}, 400, "bad_window", id="reversed"),
        pytest.param("/api/v1/dora", {"service": "nope/nope"}, 404, "unknown_service", id="unknown-service"),
        pytest.param("/api/v1/dora", {"team": "ghosts"}, 404, "unknown_team", id="unknown-team"),
        pytest.param("/api/v1/dora", {"team": "web", "service": "acme/shop"}, 400, "bad_scope", id="both-scopes"),
        pytest.param("/api/v1/dora/series", {"interval": "hour"}, 400, "bad_interval", id="bad-interval"),
        pytest.param(
            "/api/v1/dora/series", {"from": "2000-01-01", "interval": "day"}, 400, "window_too_large", id="too-many"
        ),
    ],
)
async def test_bad_queries_get_a_4xx_naming_the_problem(
    client: httpx.AsyncClient, path: str, params: dict[str, str], status: int, code: str
) -> None:
    response = await client.get(path, params=params, headers=AUTH)
    assert response.status_code == status
    assert response.json()["error"] == code
    assert response.json()["detail"]


async def test_pushed_deployment_is_read_back_on_the_same_path(tmp_path: Path) -> None:
    """POST /api/v1/deployments is the push API, GET the read API: one path, two routes, both served."""
    settings = Settings(data_dir=tmp_path / "data", push_token=SecretStr("push"), api_token=SecretStr(API_TOKEN))
    body = {
        "id": "ci-1",
        "service": "acme/cli",
        "environment": "production",
        "finished_at": (NOW - timedelta(hours=1)).isoformat(),
        "sha": "015e3d3b480e417aede5a1293bd61de9b0fd051d",
    }
    async with embedded_app(settings, NOW) as (_, c):
        pushed = await c.post("/api/v1/deployments", json=body, headers={"Authorization": "Bearer push"})
        assert (pushed.status_code, pushed.json()["status"]) == (202, "accepted")
        await wait_caught_up(c, AUTH)
        read = await get(c, "/api/v1/deployments", service="acme/cli")
    assert [d["deployment_id"] for d in read["deployments"]] == ["push:ci-1"]
