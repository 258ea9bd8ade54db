"""`metricsync serve` (SQLite, in-memory bus, uvicorn) takes bodies up to METRICSYNC_MAX_BODY_BYTES,
like distributed mode: nothing on the way (server, store, normalizer) has a smaller limit."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from metricsync.settings import Settings
from tests.support.embedded import Embedded
from tests.support.process import wait_until
from tests.support.webhooks import Request, signed_github

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "github" / "push__single_commit.json"
MAX_BODY_BYTES = Settings().ingest.max_body_bytes  # the default, 25 MiB


def push_of_exactly(size: int) -> bytes:
    """The real push fixture with its `commits` entry repeated as often as fits in `size` bytes, then
    padded with JSON whitespace to exactly `size` bytes."""
    body: dict[str, Any] = orjson.loads(FIXTURE.read_bytes())
    entry = body["commits"][0]
    one = len(orjson.dumps(body))
    repeat = (size - one) // (len(orjson.dumps(entry)) + 1)
    body["commits"] = [copy.deepcopy(entry) for _ in range(repeat + 1)]
    raw = orjson.dumps(body)
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


def signed(body: bytes, delivery_id: str) -> Request:
    return signed_github(body, "push", delivery_id)


def test_a_body_of_the_full_limit_is_accepted_stored_and_normalized(embedded: Embedded) -> None:
    largest = push_of_exactly(MAX_BODY_BYTES)
    response = httpx.post(embedded.base + "/webhooks/github", **_request(signed(largest, "largest")), timeout=60)
    assert (response.status_code, response.json()["status"]) == (202, "accepted"), response.text

    over = push_of_exactly(MAX_BODY_BYTES + 1)
    refused = httpx.post(embedded.base + "/webhooks/github", **_request(signed(over, "over")), timeout=60)
    assert (refused.status_code, refused.json()["error"]) == (413, "body_too_large"), refused.text

    wait_until("the pipeline to catch up", embedded.caught_up, timeout=120, interval=0.5)
    status = httpx.get(f"{embedded.base}/api/v1/status", timeout=10).json()
    # the repeated commit is one change: its events share an id
    assert (status["raw_deliveries"], status["events"], status["dead_letters"]) == (1, 1, 0), status


def _request(request: Request) -> dict[str, Any]:
    return {"content": request.body, "headers": request.headers}
