"""`IngestStarlette` answers `POST /webhooks/<source>` straight from the endpoint, past Starlette's
middleware and router: the answers must be exactly those of the routed path (which still serves
webhooks under a root_path, and everything else)."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from ingest.app import create_ingest_app, header_map
from schemas.ports import SinkUnavailable
from schemas.raw import RawDelivery
from tests.unit.ingest.conftest import (
    BASE_URL,
    MemorySink,
    alertmanager_headers,
    fixed_clock,
    fixture_bytes,
    github_headers,
    jenkins_headers,
    make_config,
)

PUSH = fixture_bytes("github", "push__single_commit.json")
ALERT = fixture_bytes("alertmanager", "webhook_v4__resolved_single_full.json")


def requests() -> list[tuple[str, bytes, dict[str, str]]]:
    return [
        ("/webhooks/github", PUSH, github_headers(PUSH, "push", "d-1")),
        ("/webhooks/github", PUSH, github_headers(PUSH, "push", "d-1")),  # duplicate
        ("/webhooks/github", PUSH, github_headers(PUSH, "ping", "d-2")),
        ("/webhooks/github", PUSH, github_headers(PUSH, "star", "d-3")),  # ignored
        ("/webhooks/github", PUSH[:-1], github_headers(PUSH, "push", "d-4")),  # bad signature
        ("/webhooks/github", PUSH, {**github_headers(PUSH, "push", "d-5"), "content-type": "text/plain"}),
        ("/webhooks/github", b"[1]", github_headers(b"[1]", "push", "d-6")),
        ("/webhooks/jenkins?token=wrong", b"{}", {"content-type": "application/json"}),
        ("/webhooks/jenkins", b'{"url": "job/a/"}', jenkins_headers()),
        ("/webhooks/alertmanager", ALERT, alertmanager_headers()),
        ("/webhooks/alertmanager", ALERT, {**alertmanager_headers(), "content-length": "99999999999"}),
    ]


async def answers(root_path: str) -> list[tuple[int, bytes, str | None, str | None]]:
    sink = MemorySink()
    app = create_ingest_app(make_config(), sink, fixed_clock)
    transport = httpx.ASGITransport(app=app, root_path=root_path)
    out = []
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        for path, body, headers in requests():
            response = await client.post(root_path + path, content=body, headers=headers)
            out.append(
                (
                    response.status_code,
                    response.content,
                    response.headers.get("content-type"),
                    response.headers.get("retry-after"),
                )
            )
    # The fast path never built Starlette's middleware stack; the routed one did.
    assert (app.middleware_stack is None) == (root_path == "")
    return out


async def test_fast_path_answers_exactly_as_the_routed_path() -> None:
    fast = await answers("")
    routed = await answers("/behind-a-proxy")
    assert fast == routed
    assert [status for status, *_ in fast] == [202, 202, 200, 202, 401, 415, 400, 401, 400, 202, 413]


async def test_sink_unavailable_is_503_on_the_fast_path(client: httpx.AsyncClient, sink: MemorySink) -> None:
    sink.unavailable = SinkUnavailable("broker away", retry_after_seconds=7)
    response = await client.post("/webhooks/github", content=PUSH, headers=github_headers(PUSH, "push"))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    assert response.json()["error"] == "unavailable"


class BrokenSink(MemorySink):
    async def submit(self, delivery: RawDelivery, payload: dict[str, Any] | None = None) -> bool:
        raise RuntimeError("a bug")


async def test_an_unexpected_failure_is_a_500_in_the_json_shape(caplog: pytest.LogCaptureFixture) -> None:
    app = create_ingest_app(make_config(), BrokenSink(), fixed_clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client:
        response = await client.post("/webhooks/github", content=PUSH, headers=github_headers(PUSH, "push"))
    assert response.status_code == 500
    assert response.json()["error"] == "internal_error"
    assert any(r.levelno == logging.ERROR and r.exc_info for r in caplog.records)


def test_header_map_keeps_the_first_of_repeated_headers() -> None:
    raw = [(b"x-github-event", b"push"), (b"via", b"a"), (b"x-github-event", b"ping"), (b"user-agent", b"caf\xe9")]
    assert header_map(raw) == {"x-github-event": "push", "via": "a", "user-agent": "caf\u00e9"}
