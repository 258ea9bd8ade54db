"""A sink that refuses a delivery for its size (Kafka's record limit below the body limit): 413."""

from typing import Any

import httpx

from ingest.app import create_ingest_app
from schemas.ports import DeliveryTooLarge
from schemas.raw import RawDelivery
from tests.unit.ingest.conftest import BASE_URL, fixed_clock, fixture_bytes, github_headers, make_config

REASON = "Kafka refused this delivery as too large: topic metricsync.raw takes max.message.bytes=1048588."


class TooLargeSink:
    def __init__(self) -> None:
        self.submitted: list[RawDelivery] = []

    async def submit(self, delivery: RawDelivery, payload: dict[str, Any] | None = None) -> bool:
        self.submitted.append(delivery)
        raise DeliveryTooLarge(REASON)

    async def check_ready(self) -> str | None:
        return None


async def test_a_delivery_the_sink_refuses_for_its_size_gets_413_naming_the_limit() -> None:
    sink = TooLargeSink()
    app = create_ingest_app(make_config(), sink, fixed_clock)
    body = fixture_bytes("github", "push__single_commit.json")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client:
        response = await client.post("/webhooks/github", content=body, headers=github_headers(body, "push"))

    assert response.status_code == 413
    assert response.json() == {"error": "delivery_too_large", "detail": REASON}
    assert len(sink.submitted) == 1
