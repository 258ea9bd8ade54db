"""`metricsync rebuild` (embedded): re-derive every event from the raw log with today's rules and
settings, then recompute the metrics, so a changed rule applies to all history."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any, TextIO

from metrics_worker.engine import MetricEngine
from metricsync.embedded.datadir import DataDirLock, db_path
from metricsync.embedded.fingerprint import store_fingerprint
from metricsync.embedded.memory_bus import MemoryBus
from metricsync.embedded.pipeline import EmbeddedPipeline
from metricsync.embedded.sqlite_store import SqliteStore
from metricsync.settings import Settings
from normalizer.rules import rules_fingerprint
from schemas.events import UnifiedEvent


async def rebuild_embedded(settings: Settings, out: TextIO) -> int:
    with DataDirLock(settings.data_dir):
        store = await SqliteStore.open(db_path(settings.data_dir))
        try:
            counts = await store.counts()
            total = counts.raw_deliveries
            print(f"rebuilding from {total} raw deliveries in {settings.data_dir}", file=out)
            await store.reset_derived()
            engine = MetricEngine(settings.engine_config())
            pipeline = EmbeddedPipeline(store, MemoryBus(), settings.mapping_rules(), engine, lambda: datetime.now(UTC))
            started = time.perf_counter()
            last_print = 0.0

            def progress(done: int) -> None:
                nonlocal last_print
                now = time.perf_counter()
                if now - last_print >= 0.5 or done == total:
                    last_print = now
                    rate = done / max(now - started, 1e-9)
                    print(f"  normalized {done}/{total} deliveries ({rate:,.0f}/s)", file=out, flush=True)

            await pipeline.normalize_available(progress)
            mapped = time.perf_counter()
            events = await pipeline.load()
            done = time.perf_counter()
            after = await store.counts()
            store_fingerprint(db_path(settings.data_dir), rules_fingerprint(settings.mapping_rules()))
            print(
                f"done: {after.events} events, {after.dead_letters} dead letters; "
                f"mapping {mapped - started:.2f}s, metrics {done - mapped:.2f}s "
                f"({events / max(done - mapped, 1e-9):,.0f} events/s)",
                file=out,
            )
        finally:
            await store.close()
    return 0


async def rebuild_distributed(settings: Settings, out: TextIO) -> int:
    """Re-derive events and metric state in MongoDB from its raw log, with today's rules.

    Stop the normalizers and workers first. Each service's state is stored with the current end
    offset of its events-topic partition, so workers resume after what was already published, and
    a fresh snapshot per service goes to the metrics topic."""
    from aiokafka import TopicPartition
    from aiokafka.partitioner import DefaultPartitioner

    from metrics_worker.documents import service_snapshot
    from metricsync.kafka.clients import make_consumer, make_producer
    from metricsync.mongo.dead_letter_docs import letter_doc
    from metricsync.mongo.state_log import base_doc
    from metricsync.mongo.store import RULES_DERIVED, MongoStore
    from normalizer.mapping import map_or_error

    store = MongoStore.from_settings(settings)
    consumer = make_consumer(settings, group=f"{settings.worker_group}-rebuild")
    producer = make_producer(settings)
    try:
        await store.init()
        total = await store.raw_count()
        print(f"rebuilding from {total} raw deliveries in MongoDB database {settings.mongo_db}", file=out)
        await store.reset_derived()
        rules = settings.mapping_rules()
        engine = MetricEngine(settings.engine_config())
        started = time.perf_counter()
        done, events_total, dead_total = 0, 0, 0
        writing: asyncio.Task[None] | None = None

        async def store_batch(events: list[UnifiedEvent], dead: list[dict[str, Any]]) -> None:
            await store.put_events(events)
            await store.put_dead_letters(dead)

        # the next batch is read, mapped and applied while the previous one is being stored
        async for batch in store.raw_batches(2000):
            events: list[UnifiedEvent] = []
            dead: list[dict[str, Any]] = []
            now = datetime.now(UTC)
            for delivery in batch:
                mapped, error = map_or_error(delivery, rules)
                events.extend(mapped)
                if error is not None:  # as the normalizer writes one, without a Kafka position (none here)
                    dead.append(letter_doc(delivery, error, now))
            engine.apply_many(events)
            engine.prune(datetime.now(UTC))  # memory stays within the retention
            if writing is not None:
                await writing
            writing = asyncio.create_task(store_batch(events, dead))
            done += len(batch)
            events_total += len(events)
            dead_total += len(dead)
            rate = done / max(time.perf_counter() - started, 1e-9)
            print(
                f"  {done}/{total} deliveries, {events_total} events ({rate:,.0f} deliveries/s)", file=out, flush=True
            )
        if writing is not None:
            await writing

        await consumer.start()
        await producer.start()
        await consumer.topics()  # loads the cluster metadata partitions_for_topic reads
        partitions = sorted(consumer.partitions_for_topic(settings.events_topic) or {0})
        ends = await consumer.end_offsets([TopicPartition(settings.events_topic, p) for p in partitions])
        partitioner = DefaultPartitioner()
        states = []
        services = [s.service for s in engine.services()]
        as_of = datetime.now(UTC)
        for service in services:
            partition = partitioner(service.encode(), partitions, partitions)
            offset = ends[TopicPartition(settings.events_topic, partition)] - 1
            state = engine.export_service(service)
            states.append(base_doc(service, 0, state, len(state["seen"]), partition, offset, as_of))
        await store.append_states(states)
        futures = [
            await producer.send(settings.metrics_topic, value=service_snapshot(engine, s, as_of), key=s.encode())
            for s in services
        ]
        for future in futures:
            await future
        await store.set_meta(RULES_DERIVED, rules_fingerprint(rules))
        elapsed = time.perf_counter() - started
        print(
            f"done: {events_total} events, {dead_total} dead letters, {len(services)} services in {elapsed:.2f}s",
            file=out,
        )
    finally:
        await consumer.stop()
        await producer.stop()
        await store.close()
    return 0
