"""Dropping history that left the retention (MetricEngine.prune) from a running engine, logged: the
worker and embedded mode both look every PRUNE_INTERVAL, then rebuild up to PRUNE_BATCH services per
batch of events until none is due."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from metrics_worker.engine import MetricEngine

log = logging.getLogger(__name__)

PRUNE_INTERVAL = 300.0  # seconds between looks for history that left the retention
PRUNE_BATCH = 16  # services rebuilt per call by a running service (~27 ms each at 700 events): the
# event loop (Kafka heartbeats, HTTP) is never held for long; the rest wait for the next batch


def prune(engine: MetricEngine, now: datetime, limit: int | None = PRUNE_BATCH) -> frozenset[str]:
    """The services whose state was rebuilt without their oldest history (docs/metrics.md, Retention),
    at most `limit`: when that many come back, more may be due."""
    started = time.perf_counter()
    pruned = engine.prune(now, limit)
    if pruned:
        log.info(
            "retention pruned services=%d ms=%.0f expired_events=%d",
            len(pruned),
            (time.perf_counter() - started) * 1000,
            engine.expired,
        )
    return pruned


class PruneSchedule:
    """When a running service should call `prune`: once every PRUNE_INTERVAL, and again after each
    batch while the last call came back full."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.last: float | None = None  # None: at the first batch
        self.more = False

    def due(self) -> bool:
        return self.more or self.last is None or self.clock() - self.last >= PRUNE_INTERVAL

    def done(self, pruned: int, limit: int | None = PRUNE_BATCH) -> None:
        self.last = self.clock()
        self.more = limit is not None and pruned >= limit
