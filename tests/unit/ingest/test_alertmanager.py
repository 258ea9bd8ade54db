"""POST /webhooks/alertmanager: webhook format v4, bearer/basic token, body-digest identity."""

from typing import Any

import httpx
import orjson
import pytest

from schemas.ids import body_digest
from schemas.sources import Source
from tests.unit.ingest.conftest import (
    ALERTMANAGER_TOKEN,
    RECEIVED_AT,
    MemorySink,
    alertmanager_headers,
    basic,
    bearer,
    fixture_bytes,
    fixture_names,
    make_config,
    open_client,
)

URL = "/webhooks/alertmanager"
FIRING = fixture_bytes("alertmanager", "webhook_v4__firing_two_alerts.json")
JSON = {"content-type": "application/json"}


@pytest.mark.parametrize("name", fixture_names("alertmanager"))
async def test_real_payload_is_stored_verbatim(client: httpx.AsyncClient, sink: MemorySink, name: str) -> None:
    body = fixture_bytes("alertmanager", name)
    payload = orjson.loads(body)

    response = await client.post(URL, content=body, headers=alertmanager_headers())

    assert response.status_code == 202, response.text
    assert response.json() == {"status": "accepted", "delivery_id": body_digest(body)}
    delivery = sink.only()
    assert (delivery.source, delivery.event_type) == (Source.ALERTMANAGER, "alert-group")
    assert delivery.key == payload.get("groupKey", payload["receiver"])
    assert delivery.body == body
    assert delivery.received_at == RECEIVED_AT
    assert delivery.headers["user-agent"].startswith("Alertmanager/")
    assert "authorization" not in delivery.headers


@pytest.mark.parametrize(
    ("payload", "key"),
    [
        pytest.param({"alerts": [], "groupKey": '{}:{a="b"}', "receiver": "r"}, '{}:{a="b"}', id="group-key"),
        pytest.param({"alerts": [], "receiver": "web\\.hook"}, "web\\.hook", id="legacy-receiver"),
        pytest.param({"alerts": [], "groupKey": "", "receiver": "r"}, "r", id="empty-group-key"),
        pytest.param({"alerts": [], "groupKey": 5, "receiver": ["r"]}, "alertmanager", id="wrong-types"),
    ],
)
async def test_ordering_key(client: httpx.AsyncClient, sink: MemorySink, payload: dict[str, Any], key: str) -> None:
    response = await client.post(URL, content=orjson.dumps(payload), headers=alertmanager_headers())

    assert response.status_code == 202
    assert sink.only().key == key


async def test_ha_pair_duplicate_is_stored_once(client: httpx.AsyncClient, sink: MemorySink) -> None:
    first = await client.post(URL, content=FIRING, headers=alertmanager_headers())
    second = await client.post(URL, content=FIRING, headers=alertmanager_headers())
    changed = await client.post(URL, content=FIRING.replace(b"firing", b"resolved"), headers=alertmanager_headers())

    assert [r.json()["status"] for r in (first, second, changed)] == ["accepted", "duplicate", "accepted"]
    assert len(sink.stored) == 2


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"receiver": "r", "status": "firing"}, id="no-alerts"),
        pytest.param({"alerts": None}, id="alerts-null"),
        pytest.param({"alerts": "firing"}, id="alerts-string"),
        pytest.param({"alerts": {"0": {}}}, id="alerts-object"),
        pytest.param({"text": "custom payload template"}, id="custom-template"),
    ],
)
async def test_alerts_must_be_a_list(client: httpx.AsyncClient, sink: MemorySink, payload: dict[str, Any]) -> None:
    response = await client.post(URL, content=orjson.dumps(payload), headers=alertmanager_headers())

    assert response.status_code == 400
    assert response.json()["error"] == "missing_fields"
    assert "alerts" in response.json()["detail"]
    assert sink.submitted == []


async def test_lenient_about_everything_but_alerts(client: httpx.AsyncClient) -> None:
    payload = {"version": "3", "alerts": [1, "x", None, {"labels": []}], "status": 5}

    response = await client.post(URL, content=orjson.dumps(payload), headers=alertmanager_headers())

    assert response.status_code == 202


@pytest.mark.parametrize(
    ("headers", "query", "status", "error"),
    [
        pytest.param(bearer(ALERTMANAGER_TOKEN), "", 202, None, id="bearer-good"),
        pytest.param(bearer("wrong"), "", 401, "bad_token", id="bearer-bad"),
        pytest.param(basic("alertmanager", ALERTMANAGER_TOKEN), "", 202, None, id="basic-good"),
        pytest.param(basic("alertmanager", "wrong"), "", 401, "bad_token", id="basic-bad"),
        pytest.param({}, f"?token={ALERTMANAGER_TOKEN}", 401, "missing_token", id="query-token-not-accepted"),
        pytest.param({}, "", 401, "missing_token", id="none"),
    ],
)
async def test_token_auth(
    client: httpx.AsyncClient, sink: MemorySink, headers: dict[str, str], query: str, status: int, error: str | None
) -> None:
    response = await client.post(URL + query, content=FIRING, headers={**JSON, **headers})

    assert response.status_code == status, response.text
    if error is not None:
        assert response.json()["error"] == error
        assert "METRICSYNC_ALERTMANAGER_TOKEN" in response.json()["detail"]
        assert "query" not in response.json()["detail"]
        assert sink.submitted == []


async def test_no_token_configured_refuses_naming_the_variable(sink: MemorySink) -> None:
    async with open_client(make_config(alertmanager_token=None), sink) as client:
        response = await client.post(URL, content=FIRING, headers=alertmanager_headers())

    assert response.status_code == 401
    assert "METRICSYNC_ALERTMANAGER_TOKEN" in response.json()["detail"]


async def test_allow_unsigned_accepts_without_token(sink: MemorySink) -> None:
    async with open_client(make_config(alertmanager_token=None, allow_unsigned=True), sink) as client:
        response = await client.post(URL, content=FIRING, headers=JSON)

    assert response.status_code == 202
