"""The API as a contract: the OpenAPI document (checked in, served, covering every route), strict queries,
cursor paging, CSV, the /docs page and its vendored renderer."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.routing import Route

from metricsync.embedded.web_app import create_embedded_app
from metricsync.settings import Settings
from metricsync.web.api_docs import CSP, STATIC, document_json
from metricsync.web.contract import ApiRoute, BadQueryError
from metricsync.web.paging import decode_cursor, encode_cursor, paginate
from tests.support import scenario
from tests.support.asgi import loaded_app
from tests.support.webhooks import ALERTMANAGER_TOKEN, GITHUB_SECRET, JENKINS_TOKEN

REPO = Path(__file__).resolve().parents[3]
CHECKED_IN = REPO / "docs" / "openapi.json"
NOW = datetime(2026, 3, 5, tzinfo=UTC)


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        github_secret=SecretStr(GITHUB_SECRET),
        jenkins_token=SecretStr(JENKINS_TOKEN),
        alertmanager_token=SecretStr(ALERTMANAGER_TOKEN),
    )


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with loaded_app(_settings(tmp_path), NOW, scenario.requests()) as (_, c):
        yield c


# --- the document ---------------------------------------------------------------------------------------


def test_checked_in_document_is_current(tmp_path: Path) -> None:
    generated = document_json(create_embedded_app(_settings(tmp_path)).routes)
    assert generated == CHECKED_IN.read_text(), (
        "the OpenAPI document changed: bump API_VERSION in metricsync/web/openapi.py if the contract changed, "
        "then run `metricsync openapi --output docs/openapi.json` and commit it"
    )


def test_every_api_and_webhook_route_is_documented(tmp_path: Path) -> None:
    app = create_embedded_app(_settings(tmp_path))
    undocumented = [
        route.path
        for route in app.routes
        if isinstance(route, Route)
        and route.path.startswith(("/api/", "/webhooks/"))
        and not isinstance(route, ApiRoute)
    ]
    assert undocumented == [], "register them with ApiRoute(path, endpoint, Operation(...)) (docs/api.md)"


def test_distributed_api_documents_the_dead_letters_and_mcp(tmp_path: Path) -> None:
    from metricsync.services.web_apps import create_api_app
    from metricsync.web.openapi import openapi_document

    app = create_api_app(_settings(tmp_path))  # routes only: nothing connects before the lifespan
    undocumented = [
        route.path
        for route in app.routes
        if isinstance(route, Route)
        and route.path.startswith(("/api/", "/mcp", "/healthz", "/readyz", "/metrics"))
        and not isinstance(route, ApiRoute)
    ]
    assert undocumented == []
    paths = openapi_document(app.routes)["paths"]
    assert set(paths["/readyz"]["get"]["responses"]) == {"200", "503"}  # the api's own probes, `Probe`
    assert paths["/healthz"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Probe"
    }
    assert set(paths["/api/v1/dead-letters"]["get"]["responses"]) == {"200", "400", "401"}
    one = paths["/api/v1/dead-letters/{letter_id}"]["get"]
    assert one["parameters"][0] == {"name": "letter_id", "in": "path", "required": True, "schema": {"type": "string"}}
    assert {"post", "get", "delete"} <= set(paths["/mcp"])
    assert {"/api/v1/lead-time", "/api/v1/insights"} <= set(paths)


async def test_served_document_and_docs_page(client: httpx.AsyncClient) -> None:
    served = await client.get("/openapi.json")
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/json"
    assert served.text == CHECKED_IN.read_text()
    document = served.json()
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) >= {"/api/v1/dora", "/api/v1/deployments", "/webhooks/github"}
    page = await client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CSP
    assert "script-src 'self';" in CSP
    assert "unsafe-inline" not in CSP
    for asset in ("docs/static/swagger-ui/swagger-ui-bundle.js", "docs/static/swagger-ui/swagger-ui.css"):
        assert asset in page.text
        assert (await client.get("/" + asset)).status_code == 200
    assert "SwaggerUIBundle" in (await client.get("/docs/static/docs-init.js")).text


def test_vendored_renderer_matches_its_checksums() -> None:
    folder = STATIC / "swagger-ui"
    for line in (folder / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, f"{name} was changed"
    assert "Apache License" in (folder / "LICENSE").read_text()


# --- strict queries -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "query", "code", "named"),
    [
        pytest.param("/api/v1/dora", "env=staging", "unknown_parameter", "'env'", id="typo-env"),
        pytest.param("/api/v1/dora", "limit=2", "unknown_parameter", "'limit'", id="limit-on-dora"),
        pytest.param("/api/v1/dora", "foo=bar&zed=1", "unknown_parameter", "'foo', 'zed'", id="two-unknown"),
        pytest.param("/api/v1/services", "team=web", "unknown_parameter", "'team'", id="services-takes-none"),
        pytest.param("/api/v1/status", "verbose=1", "unknown_parameter", "'verbose'", id="status-takes-none"),
        pytest.param("/api/v1/dora", "service=a&service=b", "repeated_parameter", "'service'", id="repeated"),
        pytest.param("/api/v1/deployments", "limit=0", "bad_limit", "'limit'", id="limit-zero"),
        pytest.param("/api/v1/deployments", "limit=5000", "bad_limit", "'limit'", id="limit-too-big"),
        pytest.param("/api/v1/deployments", "limit=ten", "bad_limit", "'limit'", id="limit-not-a-number"),
        pytest.param("/api/v1/incidents", "format=xml", "bad_format", "'format'", id="format"),
        pytest.param("/api/v1/incidents", "cursor=%21%21", "bad_cursor", "'cursor'", id="cursor-garbage"),
        pytest.param("/api/v1/dora/series", "interval=year", "bad_interval", "'interval'", id="interval"),
        pytest.param("/api/v1/dora", "to=", "bad_time", "'to'", id="empty-time"),
        pytest.param("/api/v1/lead-time", "limit=0", "bad_limit", "'limit'", id="lead-time-limit"),
        pytest.param("/api/v1/lead-time", "cursor=x", "unknown_parameter", "'cursor'", id="lead-time-unknown"),
        pytest.param("/api/v1/insights", "limit=3", "unknown_parameter", "'limit'", id="insights-unknown"),
        pytest.param("/api/v1/insights", "team=a&team=b", "repeated_parameter", "'team'", id="insights-repeated"),
        pytest.param("/api/v1/dora/series", "include=changes", "bad_include", "'include'", id="series-include"),
        pytest.param("/api/v1/dead-letters", "offset=50", "unknown_parameter", "'offset'", id="dead-letters-offset"),
        pytest.param("/api/v1/dead-letters", "limit=501", "bad_limit", "'limit'", id="dead-letters-limit"),
        pytest.param("/api/v1/dead-letters", "cursor=%21%21", "bad_cursor", "'cursor'", id="dead-letters-cursor"),
        pytest.param(
            "/api/v1/dead-letters", f"cursor={encode_cursor((1, 'd1'))}", "bad_cursor", "'cursor'", id="other-cursor"
        ),
        pytest.param("/api/v1/dead-letters", "format=xml", "bad_format", "'format'", id="dead-letters-format"),
        pytest.param("/api/v1/dead-letters", "state=bogus", "bad_state", "'state'", id="dead-letters-state"),
        pytest.param("/api/v1/dead-letters", "since=yesterday", "bad_time", "'since'", id="dead-letters-since"),
        pytest.param("/api/v1/dead-letters/x", "body=true", "unknown_parameter", "'body'", id="dead-letter-one"),
    ],
)
async def test_strict_queries_name_the_parameter(
    client: httpx.AsyncClient, path: str, query: str, code: str, named: str
) -> None:
    response = await client.get(f"{path}?{query}")
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == code
    assert named in body["detail"]


# --- paging and CSV -------------------------------------------------------------------------------------


async def _walk(client: httpx.AsyncClient, path: str, key: str, limit: int) -> list[dict[str, Any]]:
    url: str | None = f"{path}?limit={limit}&from={scenario.WINDOW['from']}&to={scenario.WINDOW['to']}"
    items: list[dict[str, Any]] = []
    pages = 0
    while url is not None:
        response = await client.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body[key]) <= limit
        items += body[key]
        link = response.headers.get("link")
        assert (link is None) == (body["next"] is None)
        if link is not None:
            assert link == f'<{body["next"]}>; rel="next"'
        url = body["next"]
        pages += 1
        assert pages < 100
    return items


@pytest.mark.parametrize(("path", "key"), [("/api/v1/deployments", "deployments"), ("/api/v1/incidents", "incidents")])
async def test_pages_cover_the_list_once_in_order(client: httpx.AsyncClient, path: str, key: str) -> None:
    everything = await _walk(client, path, key, 1000)
    assert everything  # the scenario has several deployments and one incident
    assert await _walk(client, path, key, 1) == everything
    assert await _walk(client, path, key, 2) == everything


@pytest.mark.parametrize(
    ("path", "key", "id_column"),
    [("/api/v1/deployments", "deployments", "deployment_id"), ("/api/v1/incidents", "incidents", "incident_id")],
)
async def test_csv_by_parameter_or_accept_header(
    client: httpx.AsyncClient, path: str, key: str, id_column: str
) -> None:
    as_json = (await client.get(path, params=scenario.WINDOW)).json()[key]
    by_param = await client.get(path, params={**scenario.WINDOW, "format": "csv"})
    by_accept = await client.get(path, params=scenario.WINDOW, headers={"Accept": "text/csv"})
    for response in (by_param, by_accept):
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert [row[id_column] for row in rows] == [item[id_column] for item in as_json]
        assert [row["service"] for row in rows] == [item["service"] for item in as_json]


async def test_csv_pages_link_to_the_next_csv_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/deployments", params={**scenario.WINDOW, "format": "csv", "limit": "1"})
    link = response.headers["link"]
    assert "format=csv" in link
    assert "cursor=" in link
    assert "limit=1" in link


# --- the paging helper ----------------------------------------------------------------------------------


def test_cursor_round_trip_and_refusals() -> None:
    key = (1_700_000_000_000_000, "svc", "d1")
    assert decode_cursor(encode_cursor(key), key) == key
    for text in ("!!", encode_cursor(("a",)), "bnVsbA", encode_cursor((1, 2, 3))):
        with pytest.raises(BadQueryError, match="cursor"):
            decode_cursor(text, key)


def test_a_cursor_stays_valid_while_items_are_added() -> None:
    items = [(t, "s", f"d{t}") for t in (10, 20, 30, 40)]
    first = paginate(items, lambda item: item, None, 2)
    assert first.items == items[:2]
    grown = [*items, (15, "s", "late"), (50, "s", "d50")]  # one before the cursor, one after the end
    second = paginate(grown, lambda item: item, first.cursor, 2)
    assert second.items == [(30, "s", "d30"), (40, "s", "d40")]
    third = paginate(grown, lambda item: item, second.cursor, 2)
    assert (third.items, third.cursor) == ([(50, "s", "d50")], None)


async def test_status_names_counts_and_positions(client: httpx.AsyncClient) -> None:
    status = (await client.get("/api/v1/status")).json()
    assert (status["mode"], status["caught_up"], status["lag"]) == ("embedded", True, 0)
    assert status["raw_deliveries"] == len(scenario.requests())  # a count
    positions = status["positions"]  # sequence numbers, not counts
    assert positions["normalized_through"] == positions["raw_last"] >= status["raw_deliveries"]
    assert "normalized_through" not in status
