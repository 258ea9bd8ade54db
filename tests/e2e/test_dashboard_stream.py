"""`GET /api/v1/stream` of a real `metricsync serve`: changes of the scope's services only, replay
after Last-Event-ID, reset when the id cannot be replayed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest

from tests.support import scenario
from tests.support.embedded import Embedded
from tests.support.process import wait_until
from tests.support.webhooks import github_deployment, github_push, sha_of

pytestmark = pytest.mark.e2e


def events(response: httpx.Response) -> Iterator[dict[str, str]]:
    event: dict[str, str] = {}
    for line in response.iter_lines():
        if not line:
            if event:
                yield event
            event = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            event[field] = value.removeprefix(" ")


def collect(
    server: Embedded, params: dict[str, str], count: int, headers: dict[str, str] | None = None
) -> list[dict[str, str]]:
    got: list[dict[str, str]] = []
    with httpx.stream(
        "GET", f"{server.base}/api/v1/stream", params=params, headers=headers or {}, timeout=10
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for event in events(response):
            got.append(event)
            if len(got) >= count:
                break
    return got


def test_the_stream_sends_the_changes_of_its_scope_and_replays_what_a_client_missed(embedded: Embedded) -> None:
    for request in scenario.requests():
        assert embedded.post(request).status_code == 202
    wait_until("the pipeline to catch up", embedded.caught_up)

    received: list[dict[str, str]] = []

    def listen() -> None:
        received.extend(collect(embedded, {"service": "acme/shop"}, count=4))  # retry, hello, 2 changes

    listener = threading.Thread(target=listen)
    listener.start()
    wait_until("the stream to open", lambda: "stream opened" in embedded.log.read_text(), timeout=10)
    c5, c6 = sha_of("shop-c5"), sha_of("shop-c6")
    p3 = sha_of("pay-p3")
    embedded.post(github_push("acme/pay", sha_of("pay-p2"), [(p3, scenario.T + 6 * scenario.H)]))
    embedded.post(github_push("acme/shop", sha_of("shop-c4"), [(c5, scenario.T + 6 * scenario.H)]))
    embedded.post(github_deployment("acme/shop", 105, c5, scenario.T + 7 * scenario.H))
    embedded.post(github_push("acme/shop", c5, [(c6, scenario.T + 8 * scenario.H)]))
    listener.join(15)
    assert not listener.is_alive()
    assert received[0] == {"retry": "3000"}
    assert received[1]["event"] == "hello"
    assert orjson.loads(received[1]["data"])["scope"]["service"] == "acme/shop"
    changes = received[2:]
    assert [e["event"] for e in changes] == ["change", "change"]
    assert {orjson.loads(e["data"])["service"] for e in changes} == {"acme/shop"}
    snapshot = orjson.loads(changes[0]["data"])["snapshot"]
    assert snapshot["scope"]["service"] == "acme/shop"
    assert "as_of" in snapshot

    # a client that saw only the first change gets the second again, and nothing of acme/pay
    replayed = collect(embedded, {"service": "acme/shop"}, count=3, headers={"Last-Event-ID": changes[0]["id"]})
    assert replayed[2]["event"] == "change"
    assert replayed[2]["id"] == changes[1]["id"]

    # an id this process never gave (a restart, another replica): reload everything
    reset = collect(embedded, {}, count=3, headers={"Last-Event-ID": "0000.5"})
    assert reset[2]["event"] == "reset"


def test_an_open_stream_does_not_hold_the_shutdown(embedded: Embedded) -> None:
    ended: list[str] = []

    def listen() -> None:
        with httpx.stream("GET", f"{embedded.base}/api/v1/stream", timeout=30) as response:
            ended.extend(line for line in response.iter_lines() if line.startswith("event:"))

    listener = threading.Thread(target=listen)
    listener.start()
    wait_until("the stream to open", lambda: "stream opened" in embedded.log.read_text(), timeout=10)
    started = time.monotonic()
    assert embedded.stop() in (0, -15)
    assert time.monotonic() - started < 5  # not uvicorn's 10 s graceful timeout
    listener.join(5)
    assert not listener.is_alive()
    assert ended == ["event: hello"]
    assert "timeout graceful shutdown exceeded" not in embedded.log.read_text()
