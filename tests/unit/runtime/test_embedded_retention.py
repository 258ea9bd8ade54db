"""Embedded mode prunes history that left the retention while it loads the stored events: the engine
then holds exactly the events at or after each service's horizon (docs/metrics.md, Retention)."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from metrics_worker.engine import EngineConfig, MetricEngine
from metrics_worker.state import fact_time
from metrics_worker.timebase import to_us
from metricsync.embedded.memory_bus import MemoryBus
from metricsync.embedded.pipeline import EmbeddedPipeline
from metricsync.embedded.sqlite_store import SqliteStore
from metricsync.settings import Settings
from metricsync.simulation.workload import MixedWorkload
from normalizer.mapping import map_delivery
from schemas.events import UnifiedEvent

END = datetime(2026, 11, 1, tzinfo=UTC)


def _events() -> list[UnifiedEvent]:
    rules = Settings().mapping_rules()
    return [
        event
        for generated in MixedWorkload(6, 480, end=END, days=60, prefix="embret")
        for event in map_delivery(generated.delivery, rules)
    ]


async def test_load_prunes_to_the_retention(tmp_path: Path) -> None:
    events = _events()
    store = await SqliteStore.open(tmp_path / "metricsync.db")
    try:
        await store.commit_normalized(0, events, [])
        engine = MetricEngine(EngineConfig(retention=timedelta(days=20)))
        pipeline = EmbeddedPipeline(store, MemoryBus(), Settings().mapping_rules(), engine, lambda: END)
        assert await pipeline.load() == len({e.id for e in events})  # the store keeps one per id
    finally:
        await store.close()

    horizons = {s.service: engine.horizon(s.service) for s in engine.services()}
    assert len(horizons) == 6
    assert all(h is not None and h > END - timedelta(days=30) for h in horizons.values()), horizons
    reference = MetricEngine(EngineConfig(retention=None))
    reference.apply_many([e for e in events if fact_time(e) >= to_us(horizons[e.service.strip().lower()] or END)])
    window = (END - timedelta(days=90), END + timedelta(days=1))
    for service in horizons:
        assert engine.report([service], "production", *window) == reference.report([service], "production", *window)
    assert engine.report(None, "production", *window).deployment_frequency.deployments > 0
