"""The dashboard over the embedded app, in process: page and assets (headers, gzip, ETag, no token),
the services table and data quality routes (token, scope), and the stream's refusals."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from metricsync.dashboard.headers import CONTENT_SECURITY_POLICY
from metricsync.settings import Settings
from tests.support import scenario
from tests.support.asgi import loaded_app
from tests.support.webhooks import (
    ALERTMANAGER_TOKEN,
    GITHUB_SECRET,
    JENKINS_TOKEN,
    github_deployment,
    github_push,
    sha_of,
)

API_TOKEN = "read-api-token"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
NOW = datetime(2026, 3, 5, tzinfo=UTC)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    config = tmp_path / "services.toml"
    config.write_text('[services."acme/shop"]\nteam = "web"\n[services."acme/pay"]\nteam = "money"\n')
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


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        pytest.param("/", "text/html; charset=utf-8", id="page"),
        pytest.param("/assets/main.js", "text/javascript; charset=utf-8", id="module"),
        pytest.param("/assets/dashboard.css", "text/css; charset=utf-8", id="styles"),
        pytest.param("/assets/vendor/uPlot.iife.min.js", "text/javascript; charset=utf-8", id="vendored-chart"),
    ],
)
async def test_the_page_and_assets_need_no_token_and_carry_the_security_headers(
    client: httpx.AsyncClient, path: str, media_type: str
) -> None:
    response = await client.get(path, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert response.headers["content-encoding"] == "gzip"
    csp = response.headers["content-security-policy"]
    assert csp == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    again = await client.get(path, headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


async def test_the_page_says_a_token_is_needed_and_names_no_other_origin(client: httpx.AsyncClient) -> None:
    page = (await client.get("/")).text
    assert '<meta name="metricsync-token-required" content="true">' in page
    assert "http://" not in page
    assert "https://" not in page
    assert "<script>" not in page


async def test_unknown_assets_are_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/assets/nope.js")).status_code == 404
    assert (await client.get("/assets/../settings.py")).status_code == 404
    assert (await client.get("/assets/index.html")).status_code == 404


async def test_the_services_table_has_one_report_per_service(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/dora/services")).status_code == 401
    body = await get(client, "/api/v1/dora/services", **scenario.WINDOW)
    rows = {row["service"]: row for row in body["services"]}
    assert list(rows) == ["acme/pay", "acme/shop"]
    assert rows["acme/shop"]["team"] == "web"
    for service in rows:
        single = await get(client, "/api/v1/dora", service=service, **scenario.WINDOW)
        assert {k: v for k, v in rows[service].items() if k not in ("service", "team")} == {
            k: v for k, v in single.items() if k != "scope"
        }
    team = await get(client, "/api/v1/dora/services", team="money", **scenario.WINDOW)
    assert [row["service"] for row in team["services"]] == ["acme/pay"]


async def test_data_quality_counts(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/quality")).status_code == 401
    body = await get(client, "/api/v1/quality", **scenario.WINDOW)
    assert {k: v for k, v in body.items() if k != "scope"} == {
        "dead_letters": 0,
        "deployments_without_changes": 1,  # acme/pay's rollback redeploys p1, whose change was shipped before
        "deployments": 5,
        "incidents_without_service": 0,
        "negative_lead_time_changes": 0,
    }


async def test_the_stream_refuses_without_token_and_for_unknown_scopes(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/stream")).status_code == 401
    response = await client.get("/api/v1/stream", params={"service": "acme/nope"}, headers=AUTH)
    assert (response.status_code, response.json()["error"]) == (404, "unknown_service")
    response = await client.get("/api/v1/stream", params={"service": "acme/pay", "team": "web"}, headers=AUTH)
    assert (response.status_code, response.json()["error"]) == (400, "bad_scope")


async def test_negative_lead_times_are_counted_as_the_drill_down_shows_them(client: httpx.AsyncClient) -> None:
    # a commit stamped an hour after the deployment that ships it (a committer's clock ahead)
    skewed = sha_of("skewed")
    late = github_push("acme/shop", sha_of("shop-c4"), [(skewed, scenario.T + 7 * scenario.H)])
    deploy = github_deployment("acme/shop", 109, skewed, scenario.T + 6 * scenario.H)
    for request in (late, deploy):
        assert (await client.post(request.path, content=request.body, headers=request.headers)).status_code == 202
    deadline = time.monotonic() + 10
    while (await get(client, "/api/v1/quality", **scenario.WINDOW))["negative_lead_time_changes"] == 0:
        assert time.monotonic() < deadline, "the skewed change was not counted"
        await asyncio.sleep(0.02)
    quality = await get(client, "/api/v1/quality", **scenario.WINDOW)
    views = (await get(client, "/api/v1/deployments", **scenario.WINDOW))["deployments"]
    negative = [c for d in views for c in d["changes"] if c["lead_time_seconds"] < 0]
    assert len(negative) == quality["negative_lead_time_changes"] == 1
    assert negative[0]["sha"] == skewed


async def test_read_api_answers_of_2_kb_or_more_are_gzipped_when_asked(client: httpx.AsyncClient) -> None:
    params = {"from": "2026-01-01", "to": "2026-03-05", "interval": "day"}
    plain = await client.get("/api/v1/dora/series", params=params, headers={**AUTH, "Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert len(plain.content) >= 2048
    gzipped = await client.get("/api/v1/dora/series", params=params, headers={**AUTH, "Accept-Encoding": "gzip"})
    assert gzipped.headers["content-encoding"] == "gzip"
    assert int(gzipped.headers["content-length"]) < len(plain.content) / 4
    assert gzipped.json() == plain.json()
    small = await client.get("/api/v1/status", headers={**AUTH, "Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers
