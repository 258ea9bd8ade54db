"""Ports: what the core and the services need from the outside world, as Protocols. Adapters live
in metricsync/; each port has two real twins, and one contract suite (tests/contracts/) runs the same
tests against both (docs/architecture.md, "How to add a store").

| port          | embedded twin                   | distributed twin                         |
|---------------|---------------------------------|------------------------------------------|
| DeliverySink  | EmbeddedSink (SQLite + mapping) | KafkaSink (raw topic, spool)             |
| RawLog        | SqliteStore                     | MongoStore                               |
| EventStore    | SqliteStore                     | MongoStore                               |
| Bus           | MemoryBus                       | Kafka (producer + consumer group)        |
| MetricsSource | LiveEngineSource (live engine)  | MongoMetricsSource (state from MongoDB)  |
| ConsumerService | (EmbeddedPipeline's two tasks) | NormalizerService, WorkerService         |
| DeadLetters   | SqliteStore                     | MongoStore                               |
"""

from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from schemas.api import DeadLetter
from schemas.events import UnifiedEvent
from schemas.raw import RawDelivery

if TYPE_CHECKING:
    import asyncio

Engine = TypeVar("Engine", covariant=True)


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


class RawLog(Protocol):
    """The immutable log of accepted deliveries: the record everything else is derived from."""

    async def put_raw_many(self, deliveries: Sequence[RawDelivery]) -> int:
        """Keep deliveries durably; one whose delivery_id is kept already is left as it is (bytes
        included). Returns how many were new."""
        ...

    def raw_batches(self, size: int) -> AsyncIterator[list[RawDelivery]]:
        """Every kept delivery once, at most `size` at a time, bodies byte for byte as received
        (`received_at` to the millisecond)."""
        ...

    async def raw_count(self) -> int: ...


class EventStore(Protocol):
    """The unified events, one per event id."""

    async def put_events(self, events: Sequence[UnifiedEvent]) -> list[UnifiedEvent]:
        """Keep the events whose id is not kept yet (the first of an id in `events` wins); returns
        those that were new, in the order given."""
        ...

    async def events_for(self, service: str, limit: int = 0) -> list[UnifiedEvent]:
        """One service's events in event-time order, one per id (`limit` 0: all)."""
        ...

    async def event_count(self) -> int: ...

    async def reset_derived(self) -> None:
        """Forget everything derived from the raw log (events, dead letters, states): for rebuild."""
        ...

    async def ping(self) -> str | None:
        """None when the store answers, else a one-line reason."""
        ...

    async def close(self) -> None: ...


class Bus(Protocol):
    """Topics of keyed messages (bytes): per key in publish order. Embedded mode's in-memory bus
    (not durable: SQLite is the record) and Kafka (durable, consumer-group offsets) carry the same bytes."""

    async def publish(self, topic: str, key: bytes, value: bytes) -> None: ...


class MetricsSource(Protocol[Engine]):
    """Where the read API gets engines from: the live one (embedded) or one loaded from stored state.
    Generic in the engine type (`MetricsSource[MetricEngine]`): schemas imports nothing of ours."""

    async def engine_for(self, services: Collection[str] | None) -> Engine:
        """An engine holding at least `services` (None: all)."""
        ...

    async def known_services(self) -> Collection[str]: ...


class Readiness(Protocol):
    """Whether a consumer service can do its work now (false during a long outage), and why not."""

    @property
    def ready(self) -> bool: ...

    def detail(self) -> str: ...


class ConsumerService(Protocol):
    """A service that consumes one topic until told to stop (`burst`: until caught up), as
    `metricsync.services.lifecycle.run_consumer_service` runs it: heartbeat and readiness included."""

    last_poll: float  # time.monotonic() of the last poll that returned (heartbeat)

    @property
    def outage(self) -> Readiness: ...

    async def start(self) -> None: ...

    async def run(self, stop: "asyncio.Event", burst: bool = False) -> None: ...

    async def stop(self) -> None: ...


class IngestObserver(Protocol):
    """Told the outcome of every webhook request (the runtime counts them for /metrics).

    `outcome`: accepted, duplicate, ignored (stored or answered, nothing to map; GitHub's ping),
    refused (a 4xx) or error (a 5xx: the sink could not store it, or a bug). `event` is the
    delivery's event type once it is known, else "unknown". Called on the request's task: keep it cheap.
    """

    def webhook(self, source: str, event: str, outcome: str, body_bytes: int) -> None: ...


@dataclass(frozen=True, slots=True)
class DeadLetterFilter:
    """Which dead letters a listing takes (`GET /api/v1/dead-letters`): every field given must hold."""

    source: str | None = None
    since: datetime | None = None  # dead-lettered (`at`) at or after
    until: datetime | None = None  # dead-lettered before
    error: str | None = None  # the error contains this text, case-insensitively
    state: Literal["open", "replayed", "all"] = "all"


class DeadLetters(Protocol):
    """The dead letters of a store, for operators: what could not be mapped, with its error.

    Order is (`at`, `id`) ascending: `at` (when it was dead-lettered) as the ISO 8601 text both stores
    write (`datetime.isoformat()` in UTC, so text order is time order), then the delivery id."""

    async def list_dead_letters(
        self, selection: DeadLetterFilter, after: tuple[str, str] | None, limit: int, with_body: bool
    ) -> list[DeadLetter]:
        """At most `limit` letters matching `selection`, in (`at`, `id`) order, after the letter whose
        (`at`, `id`) is `after` (None: from the first); `body_b64` set only `with_body`."""
        ...

    async def count_dead_letters(self, selection: DeadLetterFilter) -> int: ...

    async def get_dead_letter(self, letter_id: str) -> DeadLetter | None:
        """One letter by delivery id, with its body; None when there is none."""
        ...
