"""The worker's append-only state log on the real servers: checkpoints that write only what changed,
compaction into new bases, garbage collection, and restores (worker restart, read API) that give
the same metrics as one engine that saw every event once.

Thresholds are lowered so that a few hundred events go through several bases and many deltas."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from metrics_worker.engine import MetricEngine
from metrics_worker.state import fact_time
from metrics_worker.timebase import to_us
from metricsync.mongo import state_log
from metricsync.mongo.read_source import MongoMetricsSource
from metricsync.mongo.store import MongoStore
from metricsync.services.worker_service import WorkerService
from metricsync.settings import Settings
from metricsync.simulation.workload import MixedWorkload
from normalizer.mapping import map_delivery
from schemas.events import UnifiedEvent, event_to_json
from tests.integration.conftest import TopicFactory

pytestmark = pytest.mark.servers

END = datetime(2026, 11, 1, tzinfo=UTC)
SERVICES = 6


def _events(count: int) -> list[UnifiedEvent]:
    rules = Settings().mapping_rules()
    events: list[UnifiedEvent] = []
    for generated in MixedWorkload(SERVICES, count, end=END, days=60, prefix="statelog"):
        events.extend(map_delivery(generated.delivery, rules))
    return events[:count]


async def _produce(bootstrap: str, topic: str, events: Sequence[UnifiedEvent]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            await producer.send(topic, value=event_to_json(event), key=event.service.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def _run_worker(settings: Settings, max_records: int | None = None) -> WorkerService:
    store = MongoStore.from_settings(settings)
    worker = WorkerService(settings, store, lambda: END)
    if max_records is not None:
        worker.max_records = max_records
    try:
        await worker.start()
        await asyncio.wait_for(worker.run(asyncio.Event(), burst=True), 120)
        await worker.stop()
    finally:
        await store.close()
    return worker


async def _settings(
    kafka_bootstrap: str, mongo_uri: str, mongo_db_name: str, create_topic: TopicFactory, **overrides: Any
) -> Settings:
    """A private events topic (2 partitions), metrics topic and worker group on the test servers."""
    events_topic = await create_topic(2)
    return Settings(
        kafka_bootstrap=kafka_bootstrap,
        mongo_uri=mongo_uri,
        mongo_db=mongo_db_name,
        events_topic=events_topic,
        metrics_topic=await create_topic(1),
        worker_group=f"{events_topic}-worker",
        **overrides,
    )


def _reports(engine: MetricEngine) -> dict[str, object]:
    start, end = END - timedelta(days=90), END + timedelta(days=1)
    return {s.service: engine.report([s.service], "production", start, end) for s in engine.services()}


@pytest.mark.parametrize(
    "interval",
    [
        timedelta(seconds=3600),  # checkpoints only when idle and on stop
        timedelta(0),  # a checkpoint after every poll, running beside the next ones
    ],
    ids=["idle", "every-poll"],
)
async def test_state_log_restores_exactly_through_compactions_restarts_and_redeliveries(
    kafka_bootstrap: str,
    mongo_uri: str,
    mongo_db_name: str,
    create_topic: TopicFactory,
    monkeypatch: pytest.MonkeyPatch,
    interval: timedelta,
) -> None:
    monkeypatch.setattr(state_log, "MIN_COMPACT_EVENTS", 20)
    monkeypatch.setattr(state_log, "MAX_DELTAS", 2)
    settings = await _settings(
        kafka_bootstrap,
        mongo_uri,
        mongo_db_name,
        create_topic,
        worker_checkpoint_interval=interval,
        api_refresh_interval=timedelta(0),  # the reader looks at the state log on every call
    )
    # 7 rounds: redelivered events are skipped (by id), not logged again, so with these thresholds
    # round 5 writes a base and round 6 a delta after it
    events = _events(560)
    chunks = [events[i : i + 80] for i in range(0, len(events), 80)]
    reference = MetricEngine(settings.engine_config())
    store = MongoStore.from_settings(settings)
    reader = MongoMetricsSource(store, settings)  # one reader kept across rounds: refreshes incrementally
    try:
        await store.init()
        for n, chunk in enumerate(chunks):
            redelivered = chunks[n - 1] if n == 3 else []  # a normalizer redelivering a batch: no effect
            await _produce(kafka_bootstrap, settings.events_topic, [*redelivered, *chunk])
            reference.apply_many(chunk)
            # a fresh process every round: loads the stored state (small polls: checkpoints overlap them)
            worker = await _run_worker(settings, max_records=7 if not interval else None)
            assert _reports(worker.engine) == _reports(reference), f"worker after round {n}"
            assert _reports(await reader.engine_for(None)) == _reports(reference), f"reader after round {n}"

        stored = await store.load_states()
        assert sorted(stored) == sorted(s.service for s in reference.services())
        assert any(s.base_seq > 0 for s in stored.values()), "no service was compacted"
        assert any(s.deltas for s in stored.values()), "no service has deltas"
        assert all(not s.garbage for s in stored.values()), "superseded documents were not deleted"
        docs = await store.db[settings.state_collection].count_documents({})
        assert docs == sum(1 + len(s.deltas) for s in stored.values())
        fresh = MongoMetricsSource(store, settings)  # a reader starting from scratch
        assert _reports(await fresh.engine_for(None)) == _reports(reference)
    finally:
        await store.db.client.drop_database(mongo_db_name)
        await store.close()


async def test_a_second_writer_of_the_same_state_document_is_refused(mongo_uri: str, mongo_db_name: str) -> None:
    store = MongoStore.connect(mongo_uri, mongo_db_name)
    try:
        await store.init()
        doc = state_log.base_doc("api", 0, {"format": 1}, 0, 0, 5, END)
        await store.append_states([doc])
        with pytest.raises(Exception, match=r"api#0000000000.*another worker"):
            await store.append_states([state_log.delta_doc("web", 0, [], 0, 1, END), doc])
        assert {service: seq for service, (seq, _) in (await store.state_revisions()).items()} == {"api": 0, "web": 0}
        await store.delete_states(["api#0000000000"])
        assert list(await store.state_revisions()) == ["web"]
    finally:
        await store.db.client.drop_database(mongo_db_name)
        await store.close()


async def test_retention_prunes_the_worker_state_and_the_stored_log_follows(
    kafka_bootstrap: str,
    mongo_uri: str,
    mongo_db_name: str,
    create_topic: TopicFactory,
) -> None:
    """60 days of history with a 20-day retention: each worker run prunes (at its first batch) and
    stores a new base for the pruned services; the worker, a restarted worker and the read API then hold
    exactly the events at or after each service's horizon."""
    settings = await _settings(
        kafka_bootstrap,
        mongo_uri,
        mongo_db_name,
        create_topic,
        retention=timedelta(days=20),
        api_refresh_interval=timedelta(0),
    )
    events = _events(480)
    store = MongoStore.from_settings(settings)
    reader = MongoMetricsSource(store, settings)
    try:
        await store.init()
        for chunk in (events[:240], events[240:]):
            await _produce(kafka_bootstrap, settings.events_topic, chunk)
            worker = await _run_worker(settings)
        horizons = {s.service: worker.engine.horizon(s.service) for s in worker.engine.services()}
        assert all(h is not None for h in horizons.values()), horizons

        def kept(event: UnifiedEvent) -> bool:
            horizon = horizons[event.service.lower()]
            return horizon is None or fact_time(event) >= to_us(horizon)

        reference = MetricEngine(Settings().engine_config().model_copy(update={"retention": None}))
        reference.apply_many([e for e in events if kept(e)])
        assert reference.report(None, "production", END - timedelta(days=90), END).lead_time.changes > 0
        assert _reports(worker.engine) == _reports(reference)
        assert _reports(await reader.engine_for(None)) == _reports(reference)
        assert _reports(await MongoMetricsSource(store, settings).engine_for(None)) == _reports(reference)
        # redelivered: the worker loads the stored state, and the events change nothing
        await _produce(kafka_bootstrap, settings.events_topic, events[-40:])
        restarted = await _run_worker(settings)
        assert _reports(restarted.engine) == _reports(reference)
        assert {s: restarted.engine.horizon(s) for s in horizons} == horizons
        stored = await store.load_states()
        assert all(state.base.get("horizon") is not None for state in stored.values())
    finally:
        await store.db.client.drop_database(mongo_db_name)
        await store.close()


async def test_the_read_api_shares_one_look_at_the_state_log_within_its_refresh_interval(
    kafka_bootstrap: str,
    mongo_uri: str,
    mongo_db_name: str,
    create_topic: TopicFactory,
) -> None:
    settings = await _settings(
        kafka_bootstrap,
        mongo_uri,
        mongo_db_name,
        create_topic,
        api_refresh_interval=timedelta(hours=1),
    )
    events = _events(160)
    first, everything = MetricEngine(settings.engine_config()), MetricEngine(settings.engine_config())
    first.apply_many(events[:80])
    everything.apply_many(events)
    store = MongoStore.from_settings(settings)
    try:
        await store.init()
        await _produce(kafka_bootstrap, settings.events_topic, events[:80])
        await _run_worker(settings)
        reader = MongoMetricsSource(store, settings)
        assert _reports(await reader.engine_for(None)) == _reports(first)
        await _produce(kafka_bootstrap, settings.events_topic, events[80:])
        await _run_worker(settings)
        # within the interval the reader answers from what it looked at last ...
        assert _reports(await reader.engine_for(None)) == _reports(first)
        # ... and once it has passed, it catches up
        reader.refresh_seconds = 0.0
        assert _reports(await reader.engine_for(None)) == _reports(everything)
    finally:
        await store.db.client.drop_database(mongo_db_name)
        await store.close()


async def test_two_writers_of_one_service_are_merged_not_fatal(
    kafka_bootstrap: str,
    mongo_uri: str,
    mongo_db_name: str,
    create_topic: TopicFactory,
) -> None:
    """A service's events on two partitions owned by two workers (right after a repartition): the
    worker whose state document collides loads what the other wrote, applies its own events on top,
    writes again, and the stored state holds every event once."""
    events = _events(300)
    first, second, third = events[:100], events[100:200], events[200:]
    settings = await _settings(kafka_bootstrap, mongo_uri, mongo_db_name, create_topic)
    other = settings.model_copy(update={"events_topic": await create_topic(1)})
    other = other.model_copy(update={"worker_group": f"{other.events_topic}-worker"})
    store = MongoStore.from_settings(settings)
    try:
        await store.init()
        await _produce(kafka_bootstrap, settings.events_topic, first)
        await _run_worker(settings)  # the first owner stores state for every service
        late = WorkerService(other, store, lambda: END)  # same database, its own topic and group
        await late.start()
        try:
            await asyncio.wait_for(late.run(asyncio.Event(), burst=True), 60)  # joined, caught up (empty)
            tp = next(iter(late.kafka_consumer().assignment()))
            records = [_Record(i, event_to_json(e)) for i, e in enumerate(second)]
            await late.process_batches({tp: records})  # loads the stored state, applies its events
            await _produce(kafka_bootstrap, settings.events_topic, third)
            await _run_worker(settings)  # meanwhile the other owner writes the same services
            await late.checkpoint(collect=True)  # collides, merges, writes again: no exception
            assert late.conflicts_merged > 0
        finally:
            await late.stop()
        reference = MetricEngine(settings.engine_config())
        reference.apply_many(events)
        reader = MongoMetricsSource(store, settings)
        assert _reports(await reader.engine_for(None)) == _reports(reference)
    finally:
        await store.db.client.drop_database(mongo_db_name)
        await store.close()


class _Record:
    def __init__(self, offset: int, value: bytes) -> None:
        self.offset = offset
        self.value = value
