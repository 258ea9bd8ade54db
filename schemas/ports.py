"""Ports: what the core needs from the outside world, as Protocols. Adapters live in metricsync/."""

from typing import Any, Protocol

from schemas.raw import RawDelivery


class SinkUnavailable(Exception):
    """The sink cannot take a delivery now (store or broker down and no spool room): answer 503."""

    def __init__(self, reason: str, retry_after_seconds: int = 5) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_seconds = retry_after_seconds


class DeliveryTooLarge(Exception):
    """The sink refuses this delivery for its size, for good (e.g. Kafka's record limit is below the
    body limit): it is not stored, and retrying it would not help. Ingest answers 413 with `reason`,
    a sentence naming the limit."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DeliverySink(Protocol):
    """Where ingest puts an accepted delivery. `submit` returns only once the delivery is durable
    (SQLite commit, broker ack or fsync'd spool): True when new, False when its delivery_id was seen
    before (a duplicate, which changes nothing). Raises SinkUnavailable when it cannot store now,
    DeliveryTooLarge when it never will for the delivery's size. `payload` is the body as ingest
    parsed it (`orjson.loads(delivery.body)`, a JSON object; never to be modified), for a sink that
    maps deliveries in-process; other sinks ignore it."""

    async def submit(self, delivery: RawDelivery, payload: dict[str, Any] | None = None) -> bool: ...

    async def check_ready(self) -> str | None:
        """None when the backing store answers, else a one-line reason."""
        ...


class IngestObserver(Protocol):
    """Told the outcome of every webhook request (the runtime counts them for /metrics).

    `outcome`: accepted, duplicate, ignored (stored or answered, nothing to map; GitHub's ping),
    refused (a 4xx) or error (a 5xx: the sink could not store it, or a bug). `event` is the
    delivery's event type once it is known, else "unknown". Called on the request's task: keep it cheap.
    """

    def webhook(self, source: str, event: str, outcome: str, body_bytes: int) -> None: ...
