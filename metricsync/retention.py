"""Dropping history that left the retention (MetricEngine.prune) from a running engine, logged: the
worker and embedded mode both call it every PRUNE_INTERVAL."""

from __future__ import annotations

import logging
import time
from datetime import datetime

from metrics_worker.engine import MetricEngine

log = logging.getLogger(__name__)

PRUNE_INTERVAL = 300.0  # seconds between looks for history that left the retention


def prune(engine: MetricEngine, now: datetime) -> frozenset[str]:
    """The services whose state was rebuilt without their oldest history (docs/metrics.md, Retention)."""
    started = time.perf_counter()
    pruned = engine.prune(now)
    if pruned:
        log.info(
            "retention pruned services=%d ms=%.0f expired_events=%d",
            len(pruned),
            (time.perf_counter() - started) * 1000,
            engine.expired,
        )
    return pruned
