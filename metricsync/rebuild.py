"""`metricsync rebuild` (embedded): re-derive every event from the raw log with today's rules and
settings, then recompute the metrics, so a changed rule applies to all history."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TextIO

from metrics_worker.engine import MetricEngine
from metricsync.datadir import DataDirLock, db_path
from metricsync.embedded import EmbeddedPipeline
from metricsync.memory_bus import MemoryBus
from metricsync.settings import Settings
from metricsync.sqlite_store import SqliteStore


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
            print(
                f"done: {after.events} events, {after.dead_letters} dead letters; "
                f"mapping {mapped - started:.2f}s, metrics {done - mapped:.2f}s "
                f"({events / max(done - mapped, 1e-9):,.0f} events/s)",
                file=out,
            )
        finally:
            await store.close()
    return 0
