"""Hostile and broken input on every webhook endpoint: always a clear 4xx (never a 500), and the app
keeps serving."""

import json
from collections.abc import AsyncIterator, Callable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from ingest.app import create_ingest_app
from schemas.ports import SinkUnavailable
from tests.unit.ingest.conftest import (
    MemorySink,
    alertmanager_headers,
    fixed_clock,
    fixture_bytes,
    github_headers,
    gitter_body,
    jenkins_headers,
    make_config,
    open_client,
)


@dataclass(frozen=True)
class Target:
    url: str
    valid: bytes
    make_headers: Callable[[bytes], dict[str, str]]

    def headers(self, body: bytes, content_type: str | None = "application/json") -> dict[str, str]:
        headers = {k: v for k, v in self.make_headers(body).items() if k != "content-type"}
        if content_type is not None:
            headers["content-type"] = content_type
        return headers


GITHUB = Target(
    "/webhooks/github",
    fixture_bytes("github", "push__single_commit.json"),
    lambda body: github_headers(body, "push"),
)
JENKINS = Target(
    "/webhooks/jenkins",
    gitter_body("notification__finalized_scm_artifacts__gitter.json"),
    lambda body: jenkins_headers(),
)
JENKINS_CE = Target(
    "/webhooks/jenkins",
    fixture_bytes("jenkins", "cloudevents__job_completed__readme.json"),
    lambda body: jenkins_headers(**{"ce-type": "org.jenkinsci.job.completed", "ce-source": "job/test2"}),
)
ALERTMANAGER = Target(
    "/webhooks/alertmanager",
    fixture_bytes("alertmanager", "webhook_v4__resolved_single_full.json"),
    lambda body: alertmanager_headers(),
)
TARGETS = [
    pytest.param(GITHUB, id="github"),
    pytest.param(JENKINS, id="jenkins"),
    pytest.param(ALERTMANAGER, id="alertmanager"),
]

NESTED = b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(
    ("body", "error"),
    [
        pytest.param(b'{"action": "opened"', "malformed_json", id="truncated"),
        pytest.param(GITHUB.valid[: len(GITHUB.valid) // 2], "malformed_json", id="truncated-real-payload"),
        pytest.param(b'{"a": 1} {"b": 2}', "malformed_json", id="two-documents"),
        pytest.param(b"{'a': 1}", "malformed_json", id="single-quotes"),
        pytest.param(b'{"a": NaN}', "malformed_json", id="nan"),
        pytest.param(b"\xef\xbb\xbf{}", "malformed_json", id="utf8-bom"),
        pytest.param(NESTED, "malformed_json", id="nesting-too-deep"),
        pytest.param(b"[1, 2]", "not_an_object", id="array"),
        pytest.param(b'[{"alerts": []}]', "not_an_object", id="array-of-objects"),
        pytest.param(b'"text"', "not_an_object", id="string"),
        pytest.param(b"42", "not_an_object", id="number"),
        pytest.param(b"true", "not_an_object", id="boolean"),
        pytest.param(b"null", "not_an_object", id="null"),
        pytest.param(b"", "empty_body", id="empty"),
        pytest.param(b'{"a": "caf\xe9"}', "not_utf8", id="latin-1"),
        pytest.param(b"\xff\xfe{\x00}\x00", "not_utf8", id="utf-16"),
        pytest.param(b"\x00\x01\x02", "malformed_json", id="binary"),
    ],
)
async def test_bad_body_is_400_naming_the_problem(
    client: httpx.AsyncClient, sink: MemorySink, target: Target, body: bytes, error: str
) -> None:
    response = await client.post(target.url, content=body, headers=target.headers(body))

    assert response.status_code == 400, response.text
    assert response.json()["error"] == error
    assert response.json()["detail"].endswith(".")
    assert sink.submitted == []


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(
    ("content_type", "status", "error"),
    [
        pytest.param(None, 415, "missing_content_type", id="missing"),
        pytest.param("", 415, "missing_content_type", id="empty"),
        pytest.param("text/plain", 415, "unsupported_content_type", id="text-plain"),
        pytest.param("application/octet-stream", 415, "unsupported_content_type", id="octet-stream"),
        pytest.param("multipart/form-data; boundary=x", 415, "unsupported_content_type", id="multipart"),
        pytest.param("application/jsonx", 415, "unsupported_content_type", id="lookalike"),
        pytest.param("text/json+json", 415, "unsupported_content_type", id="not-application"),
        pytest.param("application/json", 202, None, id="json"),
        pytest.param("application/json; charset=utf-8", 202, None, id="json-charset"),
        pytest.param("Application/JSON;charset=UTF-8", 202, None, id="json-mixed-case"),
        pytest.param("application/vnd.github+json", 202, None, id="vendor-json"),
        pytest.param("application/cloudevents+json", 202, None, id="cloudevents-json"),
    ],
)
async def test_content_type(
    client: httpx.AsyncClient, target: Target, content_type: str | None, status: int, error: str | None
) -> None:
    response = await client.post(target.url, content=target.valid, headers=target.headers(target.valid, content_type))

    assert response.status_code == status, response.text
    if error is not None:
        assert response.json()["error"] == error
        assert "application/json" in response.json()["detail"]


LIMIT = 4096


class CountingBody:
    """A request body sent in chunks, counting how many chunks the app pulled."""

    def __init__(self, chunks: int, chunk: bytes = b" " * 1024) -> None:
        self.chunks = chunks
        self.chunk = chunk
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            self.pulled += 1
            yield self.chunk


def padded(body: bytes, size: int) -> bytes:
    """The same JSON document, padded with trailing whitespace to exactly `size` bytes."""
    assert len(body) <= size
    return body + b" " * (size - len(body))


@pytest.fixture
async def small_client(sink: MemorySink) -> AsyncIterator[httpx.AsyncClient]:
    async with open_client(make_config(max_body_bytes=LIMIT), sink) as client:
        yield client


SMALL = {
    "github": b'{"repository": {"full_name": "o/r"}}',
    "jenkins": orjson.dumps({"url": "job/a/", "build": {"number": 1, "phase": "STARTED"}}),
    "alertmanager": b'{"alerts": [], "receiver": "r"}',
}


@pytest.mark.parametrize("target", TARGETS)
async def test_body_at_the_limit_is_accepted_one_byte_more_is_413(
    small_client: httpx.AsyncClient, sink: MemorySink, target: Target
) -> None:
    source = target.url.rsplit("/", 1)[1]
    at_limit = padded(SMALL[source], LIMIT)
    over = padded(SMALL[source], LIMIT + 1)

    ok = await small_client.post(target.url, content=at_limit, headers=target.headers(at_limit))
    too_big = await small_client.post(target.url, content=over, headers=target.headers(over))

    assert ok.status_code == 202, ok.text
    assert too_big.status_code == 413
    assert too_big.json()["error"] == "body_too_large"
    assert str(LIMIT) in too_big.json()["detail"]
    assert len(sink.submitted) == 1


@pytest.mark.parametrize("target", TARGETS)
async def test_declared_length_over_the_limit_is_413_before_reading(
    small_client: httpx.AsyncClient, sink: MemorySink, target: Target
) -> None:
    body = CountingBody(chunks=100)
    headers = {**target.headers(b"{}"), "content-length": str(100 * 1024)}

    response = await small_client.post(target.url, content=body, headers=headers)

    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"
    assert body.pulled == 0
    assert sink.submitted == []


@pytest.mark.parametrize("target", TARGETS)
async def test_chunked_body_over_the_limit_is_413_and_reading_stops(
    small_client: httpx.AsyncClient, sink: MemorySink, target: Target
) -> None:
    body = CountingBody(chunks=1000)

    response = await small_client.post(target.url, content=body, headers=target.headers(b"{}"))

    assert response.status_code == 413
    assert body.pulled <= LIMIT // 1024 + 1
    assert sink.submitted == []


@pytest.mark.parametrize("target", TARGETS)
async def test_chunked_body_within_the_limit_is_read_whole(
    small_client: httpx.AsyncClient, sink: MemorySink, target: Target
) -> None:
    source = target.url.rsplit("/", 1)[1]
    body = padded(SMALL[source], 3000)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 700):
            yield body[start : start + 700]

    response = await small_client.post(target.url, content=chunks(), headers=target.headers(body))

    assert response.status_code == 202, response.text
    assert sink.only().body == body


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("length", ["abc", "-1", "1e3", "1_000", "+5"])
async def test_invalid_content_length_is_400(client: httpx.AsyncClient, target: Target, length: str) -> None:
    response = await client.post(
        target.url, content=target.valid, headers={**target.headers(target.valid), "content-length": length}
    )

    assert response.status_code == 400
    assert response.json()["error"] == "bad_content_length"


# --- wrong types anywhere: stored (202) or refused (400), never a crash ---------------------------------

ALIENS: list[Any] = [None, True, 0, -1, 2**70, 1.5, "", "x" * 300, [], [None], {}, {"number": []}]


def mutations(value: Any, depth: int) -> Iterator[tuple[str, Any]]:
    """(path, document) for every way to replace one value down to `depth`, or drop one key."""
    if depth == 0:
        return
    items: list[tuple[Any, Any]]
    if isinstance(value, dict):
        items = list(value.items())
        for key, _ in items:
            yield f"{key}:dropped", {k: v for k, v in value.items() if k != key}
    elif isinstance(value, list):
        items = list(enumerate(value[:2]))
    else:
        return
    for key, child in items:
        for alien in ALIENS:
            mutated = dict(value) if isinstance(value, dict) else list(value)
            mutated[key] = alien
            yield f"{key}={alien!r:.20}", mutated
        for path, child_mutated in mutations(child, depth - 1):
            mutated = dict(value) if isinstance(value, dict) else list(value)
            mutated[key] = child_mutated
            yield f"{key}.{path}", mutated


@pytest.mark.parametrize(
    "target",
    [*TARGETS, pytest.param(JENKINS_CE, id="jenkins-cloudevents")],
)
async def test_wrong_types_anywhere_are_stored_or_refused(
    client: httpx.AsyncClient, sink: MemorySink, target: Target
) -> None:
    seen: dict[int, int] = {}
    for path, document in mutations(orjson.loads(target.valid), depth=3):
        body = json.dumps(document).encode()  # stdlib: orjson cannot write 2**70
        response = await client.post(target.url, content=body, headers=target.headers(body))
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        assert response.status_code in (202, 400), (path, response.text)
        if response.status_code == 400:
            assert response.json()["error"] == "missing_fields", path
    assert seen.get(202, 0) > 100
    final = await client.post(target.url, content=target.valid, headers=target.headers(target.valid))
    assert final.status_code == 202


# --- unknown events, routing, sink trouble -------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "headers"),
    [
        pytest.param(GITHUB, {"x-github-event": "definitely_not_an_event"}, id="github"),
        pytest.param(JENKINS, {"ce-type": "com.example.unknown", "ce-source": "x"}, id="jenkins-cloudevent"),
    ],
)
async def test_unknown_events_are_stored_and_ignored(
    client: httpx.AsyncClient, sink: MemorySink, target: Target, headers: dict[str, str]
) -> None:
    body = b'{"something": "new"}'

    response = await client.post(target.url, content=body, headers={**target.headers(body), **headers})

    assert response.status_code == 202
    assert response.json()["status"] == "ignored"
    assert sink.only().body == body


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", ["/webhooks/github", "/webhooks/jenkins", "/webhooks/alertmanager"])
async def test_wrong_method_is_405(client: httpx.AsyncClient, method: str, path: str) -> None:
    response = await client.request(method, path + "?token=secret-in-query")

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["error"] == "method_not_allowed"
    assert "secret-in-query" not in response.text


async def test_unknown_path_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/webhooks/gitlab?token=secret-in-query", content=b"{}", headers={"content-type": "application/json"}
    )

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert "secret-in-query" not in response.text


@pytest.mark.parametrize("target", [*TARGETS, pytest.param(JENKINS_CE, id="jenkins-cloudevents")])
async def test_sink_unavailable_is_503_with_retry_after_then_recovers(
    client: httpx.AsyncClient, sink: MemorySink, target: Target
) -> None:
    sink.unavailable = SinkUnavailable("store is down", retry_after_seconds=7)

    refused = await client.post(target.url, content=target.valid, headers=target.headers(target.valid))
    sink.unavailable = None
    retried = await client.post(target.url, content=target.valid, headers=target.headers(target.valid))

    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "7"
    assert refused.json()["error"] == "unavailable"
    assert "store is down" in refused.json()["detail"]
    assert retried.status_code == 202
    assert retried.json()["status"] == "accepted"


@pytest.mark.parametrize("seconds", [0, -3])
async def test_retry_after_is_at_least_one_second(client: httpx.AsyncClient, sink: MemorySink, seconds: int) -> None:
    sink.unavailable = SinkUnavailable("starting", retry_after_seconds=seconds)

    response = await client.post(GITHUB.url, content=GITHUB.valid, headers=GITHUB.headers(GITHUB.valid))

    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"


async def test_app_keeps_serving_after_a_barrage(client: httpx.AsyncClient, sink: MemorySink) -> None:
    for target in (GITHUB, JENKINS, ALERTMANAGER):
        for body in (b"", b"[", b"\xff", b"[]", NESTED, b"null"):
            response = await client.post(target.url, content=body, headers=target.headers(body))
            assert 400 <= response.status_code < 500
        response = await client.post(target.url, content=b"{}", headers={"content-type": "text/plain"})
        assert 400 <= response.status_code < 500

    for target in (GITHUB, JENKINS, ALERTMANAGER):
        response = await client.post(target.url, content=target.valid, headers=target.headers(target.valid))
        assert response.status_code == 202
    assert len(sink.stored) == 3


async def test_client_disconnecting_mid_body_is_not_a_server_error(sink: MemorySink) -> None:
    app = create_ingest_app(make_config(), sink, fixed_clock)
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": b'{"alerts": [', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/webhooks/alertmanager",
        "raw_path": b"/webhooks/alertmanager",
        "query_string": b"",
        "root_path": "",
        "headers": [(k.encode(), v.encode()) for k, v in alertmanager_headers().items()],
        "server": ("ingest.test", 80),
        "client": ("127.0.0.1", 50000),
    }

    await app(scope, receive, send)

    assert sent[0]["status"] == 400
    assert sink.submitted == []
