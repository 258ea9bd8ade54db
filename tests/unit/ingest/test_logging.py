"""Logs carry key=value context and never a secret, a token or a query string."""

import base64
import logging

import httpx
import orjson
import pytest

from metricsync.logs import message_fields
from tests.unit.ingest.conftest import (
    ALERTMANAGER_TOKEN,
    GITHUB_SECRET,
    JENKINS_TOKEN,
    MemorySink,
    basic,
    bearer,
    github_headers,
    notification,
    sign,
)

BODY = orjson.dumps(notification())
JSON = {"content-type": "application/json"}


async def test_tokens_and_query_strings_never_reach_logs_or_answers(
    client: httpx.AsyncClient, sink: MemorySink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    near_miss = JENKINS_TOKEN[:-1] + "X"
    requests: list[tuple[str, dict[str, str]]] = [
        (f"/webhooks/jenkins?token={JENKINS_TOKEN}", JSON),
        (f"/webhooks/jenkins?token={near_miss}", JSON),
        (f"/webhooks/jenkins?token={JENKINS_TOKEN}", {"content-type": "text/plain"}),
        (f"/webhooks/jenkins?token={JENKINS_TOKEN}&x=1", {**JSON, "content-length": "99999999999"}),
        ("/webhooks/jenkins", {**JSON, **bearer(near_miss)}),
        ("/webhooks/jenkins", {**JSON, **basic("u", near_miss)}),
        ("/webhooks/jenkins", {**JSON, **basic("u", JENKINS_TOKEN)}),
        (f"/webhooks/alertmanager?token={ALERTMANAGER_TOKEN}", {**JSON, **bearer(near_miss)}),
        ("/webhooks/alertmanager", {**JSON, **bearer(ALERTMANAGER_TOKEN)}),
        (f"/webhooks/github?token={JENKINS_TOKEN}", github_headers(BODY, "push")),
        ("/webhooks/github", github_headers(BODY, "push", **{"x-hub-signature-256": sign(BODY, near_miss)})),
    ]
    answers = []
    for url, headers in requests:
        response = await client.post(url, content=BODY, headers=headers)
        answers.append(response.text)
        assert response.status_code < 500

    # httpx (the test client) logs its own URLs; everything on the server side must be clean.
    server = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    # the message and every field a JSON log line would carry
    server_lines = [f"{r.getMessage()} {sorted(map(str, vars(r).values()))}" for r in server]
    text = "\n".join(server_lines + answers)
    forbidden = [
        JENKINS_TOKEN,
        ALERTMANAGER_TOKEN,
        GITHUB_SECRET,
        near_miss,
        base64.b64encode(f"u:{JENKINS_TOKEN}".encode()).decode(),
        "token=",
        "?",
    ]
    assert [secret for secret in forbidden if secret in text] == []
    assert len([r for r in server if r.name == "ingest.app"]) == len(requests), "one access line per webhook"
    for delivery in sink.stored.values():
        assert JENKINS_TOKEN not in str(delivery.headers)


async def test_refusals_are_logged_with_context(client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ingest")

    await client.post("/webhooks/jenkins", content=BODY, headers={**JSON, **bearer("nope")})

    (record,) = [r for r in caplog.records if r.name == "ingest.app"]
    message = record.getMessage()
    assert record.levelno == logging.INFO
    for part in ("source=jenkins", "status=401", "error=bad_token"):
        assert part in message


async def test_each_webhook_gets_one_access_line_with_fields(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ingest")
    body = b'{"repository": {"full_name": "o/r"}}'
    headers = github_headers(body, "push", "guid-9")

    await client.post("/webhooks/github", content=body, headers=headers)
    await client.post("/webhooks/github", content=body, headers=headers)
    await client.post("/webhooks/jenkins", content=BODY, headers={**JSON, **bearer("nope")})

    records = [r for r in caplog.records if r.name == "ingest.app"]
    assert [r.levelno for r in records] == [logging.INFO] * 3
    # the fields a JSON line carries: the message's pairs (and a refusal's `extra`, typed)
    fields = [message_fields(r.getMessage()) for r in records]
    for f in fields:
        assert float(f.pop("ms")) >= 0
    assert fields[:2] == [
        {
            "source": "github",
            "event": "push",
            "delivery_id": "guid-9",
            "outcome": "accepted",
            "status": "202",
            "bytes": "36",
        },
        {
            "source": "github",
            "event": "push",
            "delivery_id": "guid-9",
            "outcome": "duplicate",
            "status": "202",
            "bytes": "36",
        },
    ]
    assert {k: fields[2][k] for k in ("source", "event", "delivery_id", "outcome", "status", "bytes", "error")} == {
        "source": "jenkins",
        "event": "-",
        "delivery_id": "-",
        "outcome": "refused",
        "status": "401",
        "bytes": "0",
        "error": "bad_token",
    }
    refused = records[2]
    assert (refused.status, refused.error) == (401, "bad_token")  # type: ignore[attr-defined]
