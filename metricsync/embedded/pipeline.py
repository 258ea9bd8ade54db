"""Embedded mode: ingest, normalizer and metrics worker in one process, on SQLite and the in-memory bus.

    webhook -> ingest -> map_delivery -> SqliteStore.put_mapped: the delivery, its events, any dead
            letter and the normalizer cursor in one transaction (durable; group commit)
            -> bus EVENTS_TOPIC -> worker: engine_batch.apply_batch -> bus METRICS_TOPIC snapshots

The normalizer task is the fallback: a delivery stored while the cursor is behind the raw log (a
backlog after an upgrade, `put_raw` without a mapping) is stored alone, a wake-up goes on the bus
RAW_TOPIC, and the normalizer maps raw rows after its cursor and commits events + cursor. On start the
engine is loaded from the stored events, then the normalizer catches up on raw deliveries stored but
not yet normalized (a crash between the two loses nothing).

The worker decodes each bus message alone: one that cannot be decoded is dead-lettered alone (logged,
counted in the status), the rest of its batch is applied. A batch that fails to apply leaves the engine
in an unknown state, so the worker rebuilds it from the stored events (every event reaches the bus
after it is stored, and a duplicate changes nothing), retrying with a growing pause until that works;
until then `/api/v1/status` says `worker_error` and not `caught_up`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from metrics_worker.engine import MetricEngine
from metricsync import pruning
from metricsync.embedded.memory_bus import BusMessage, MemoryBus, Subscription
from metricsync.embedded.sqlite_store import DeadLetter, Mapping, SqliteStore, StoredRaw
from metricsync.engine_batch import apply_batch
from metricsync.errors import StoreError
from metricsync.telemetry.pipeline import NO_PIPELINE_METRICS, PipelineObserver
from normalizer.mapping import map_or_error
from normalizer.rules import MappingRules
from schemas.events import UnifiedEvent, event_from_json, event_to_json
from schemas.ports import SinkUnavailable
from schemas.raw import RawDelivery
from schemas.topics import EVENTS_TOPIC, METRICS_TOPIC, RAW_TOPIC

log = logging.getLogger(__name__)

NORMALIZE_BATCH = 500
APPLY_BATCH = 2000
LOAD_BATCH = 5000
RECOVERY_PAUSE = 1.0  # seconds before the first rebuild of a failed engine; doubles up to RECOVERY_PAUSE_MAX
RECOVERY_PAUSE_MAX = 60.0


@dataclass(frozen=True, slots=True)
class NormalizeResult:
    events: list[UnifiedEvent]
    dead: list[DeadLetter]


def normalize_rows(
    rows: list[StoredRaw], rules: MappingRules, observer: PipelineObserver = NO_PIPELINE_METRICS
) -> NormalizeResult:
    """Map stored raw deliveries to events; what cannot be mapped becomes a dead letter."""
    events: list[UnifiedEvent] = []
    dead: list[DeadLetter] = []
    for row in rows:
        mapped, error = map_or_error(row.delivery, rules)
        observer.normalized(row.delivery.source.value, len(mapped), error is not None)
        events.extend(mapped)
        if error is not None:
            dead.append(DeadLetter(row.seq, row.delivery.delivery_id, error))
    return NormalizeResult(events, dead)


class EmbeddedSink:
    """The DeliverySink of embedded mode: mapped, then stored with its events in one durable
    transaction; its new events go to the worker on the bus (or a wake-up to the normalizer task if
    the store left the mapping to it)."""

    def __init__(
        self, store: SqliteStore, bus: MemoryBus, rules: MappingRules, observer: PipelineObserver = NO_PIPELINE_METRICS
    ) -> None:
        self._store = store
        self._bus = bus
        self._rules = rules
        self._observer = observer

    async def submit(self, delivery: RawDelivery, payload: dict[str, Any] | None = None) -> bool:
        events, error = map_or_error(delivery, self._rules, payload)
        try:
            stored = await self._store.put_mapped(delivery, Mapping(events, error))
        except StoreError as e:
            raise SinkUnavailable(f"cannot store the delivery: {e}", retry_after_seconds=5) from e
        if stored.is_new and not stored.normalized:
            self._bus.publish_nowait(RAW_TOPIC, delivery.key.encode(), delivery.delivery_id.encode())
        elif stored.is_new:
            self._observer.normalized(delivery.source.value, len(events), error is not None)
        for event in stored.new_events:
            self._bus.publish_nowait(EVENTS_TOPIC, event.service.encode(), event_to_json(event))
        return stored.is_new

    async def check_ready(self) -> str | None:
        return await self._store.ping()


class EmbeddedPipeline:
    """Runs the normalizer and the worker as two tasks over the store and the bus."""

    def __init__(
        self,
        store: SqliteStore,
        bus: MemoryBus,
        rules: MappingRules,
        engine: MetricEngine,
        clock: Callable[[], datetime],
        observer: PipelineObserver = NO_PIPELINE_METRICS,
    ) -> None:
        self.store = store
        self.bus = bus
        self.rules = rules
        self.engine = engine
        self.clock = clock
        self.observer = observer  # /metrics: normalizer outcomes, events applied, snapshot latency
        self.applied_events = 0
        self.dead_letters = 0  # bus messages the worker could not decode (each logged)
        self.worker_error: str | None = None  # set from a failed batch until the engine is rebuilt
        self.recovery_pause = RECOVERY_PAUSE
        self._applying = False
        self._normalized_through = 0
        self._raw_sub: Subscription | None = None
        self._events_sub: Subscription | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._pruning = pruning.PruneSchedule()

    async def load(self) -> int:
        """Apply every stored event to the engine (start-up). Returns the number of events."""
        total = await self._load_into(self.engine)
        self.applied_events = total
        return total

    async def _load_into(self, engine: MetricEngine) -> int:
        started = time.perf_counter()
        seq, total = 0, 0
        while True:
            seq, events = await self.store.events_after(seq, LOAD_BATCH)
            if not events:
                break
            engine.apply_many(events)
            total += len(events)
            self.prune(limit=None, engine=engine)  # as it goes: memory stays within the retention
        log.info("engine loaded events=%d seconds=%.2f", total, time.perf_counter() - started)
        return total

    def prune(self, limit: int | None = pruning.PRUNE_BATCH, engine: MetricEngine | None = None) -> None:
        """Drop history that left the retention from the engine (the stored events stay: a rebuild
        or a longer METRICSYNC_RETENTION brings it back)."""
        pruned = pruning.prune(engine or self.engine, self.clock(), limit)
        self._pruning.done(len(pruned), limit)

    async def start(self) -> None:
        self._raw_sub = self.bus.subscribe(RAW_TOPIC)
        self._events_sub = self.bus.subscribe(EVENTS_TOPIC)
        await self.load()
        self._normalized_through = await self.store.cursor()
        self._tasks = [
            asyncio.create_task(self._normalizer_loop(self._raw_sub), name="normalizer"),
            asyncio.create_task(self._worker_loop(self._events_sub), name="worker"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for sub in (self._raw_sub, self._events_sub):
            if sub is not None:
                sub.close()

    # --- normalizer ------------------------------------------------------------------------------

    async def normalize_available(self, progress: Callable[[int], None] | None = None) -> int:
        """Normalize every raw delivery stored after the cursor. Returns how many were processed;
        `progress` is called with the running count after each batch."""
        processed = 0
        # deliveries stored with their events move the cursor without this task
        self._normalized_through = max(self._normalized_through, await self.store.cursor())
        while True:
            rows = await self.store.raw_after(self._normalized_through, NORMALIZE_BATCH)
            if not rows:
                return processed
            result = normalize_rows(rows, self.rules, self.observer)
            new_events = await self.store.commit_normalized(rows[-1].seq, result.events, result.dead)
            self._normalized_through = rows[-1].seq
            processed += len(rows)
            if progress is not None:
                progress(processed)
            for event in new_events:
                self.bus.publish_nowait(EVENTS_TOPIC, event.service.encode(), event_to_json(event))

    async def _normalizer_loop(self, sub: Subscription) -> None:
        while True:
            try:
                await self.normalize_available()
            except Exception:
                log.exception("normalizer batch failed; retrying in 1s")
                await asyncio.sleep(1.0)
                continue
            await sub.get_batch(10_000, wait_seconds=5.0)  # a wake-up, or a periodic look anyway

    # --- worker ----------------------------------------------------------------------------------

    async def _worker_loop(self, sub: Subscription) -> None:
        while True:
            messages = await sub.get_batch(APPLY_BATCH)
            self._applying = True
            try:
                events = self._decode(messages)
                applied = apply_batch(self.engine, events, self.clock, self._pruning)
                self.applied_events += len(events)
                for service, snapshot in applied.snapshots:
                    self.bus.publish_nowait(METRICS_TOPIC, service.encode(), snapshot)
                self.observer.applied(events, applied.snapshot_at)
            except Exception as e:
                self.worker_error = f"{type(e).__name__}: {e}"[:500]
                log.exception("worker batch failed events=%d; rebuilding the engine from the store", len(messages))
                await self._recover()
            finally:
                self._applying = False

    def _decode(self, messages: list[BusMessage]) -> list[UnifiedEvent]:
        """The events of a batch; a message that cannot be decoded is dead-lettered alone."""
        events: list[UnifiedEvent] = []
        for message in messages:
            try:
                events.append(event_from_json(message.value))
            except (ValidationError, ValueError) as e:
                self.dead_letters += 1
                log.error(
                    "undecodable event dead-lettered key=%s bytes=%d error=%s",
                    message.key.decode(errors="replace"),
                    len(message.value),
                    str(e).replace("\n", " ")[:300],
                )
        return events

    async def _recover(self) -> None:
        """Rebuild the engine from the stored events, retrying with a growing pause until it works.
        Events published meanwhile wait on the bus; those already loaded are duplicates then."""
        pause = self.recovery_pause
        while True:
            await asyncio.sleep(pause)
            try:
                engine = MetricEngine(self.engine.config)
                total = await self._load_into(engine)
            except Exception as e:
                self.worker_error = f"{type(e).__name__}: {e}"[:500]
                log.exception(
                    "engine rebuild from the store failed; retrying in %.0fs", min(pause * 2, RECOVERY_PAUSE_MAX)
                )
                pause = min(pause * 2, RECOVERY_PAUSE_MAX)
                continue
            self.engine = engine
            self.applied_events = total
            self.worker_error = None
            log.warning("worker recovered: engine rebuilt from the store events=%d", total)
            return

    # --- status ----------------------------------------------------------------------------------

    async def status(self) -> dict[str, object]:
        """The status document (schemas.api.Status): counts are counts of stored rows; positions are
        sequence numbers in the raw log (they have gaps, so they are not counts); `lag` is raw deliveries
        not normalized yet plus events not applied yet."""
        counts = await self.store.counts()
        pending = (self._events_sub.pending() if self._events_sub else 0) + int(self._applying)
        normalizer_lag = counts.last_raw_seq - counts.normalized_through
        return {
            "mode": "embedded",
            "caught_up": normalizer_lag == 0 and pending == 0 and self.worker_error is None,
            "lag": normalizer_lag + pending,
            "raw_deliveries": counts.raw_deliveries,
            "events": counts.events,
            "dead_letters": counts.dead_letters,
            "normalizer_lag": normalizer_lag,
            "worker_pending": pending,
            "worker_dead_letters": self.dead_letters,
            "worker_error": self.worker_error,
            "positions": {"raw_last": counts.last_raw_seq, "normalized_through": counts.normalized_through},
        }
