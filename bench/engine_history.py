"""Scenario 5: per-event engine cost on top of a small and a large history, same service mix.

In-process, the worker's engine alone (MetricEngine.apply_many). The events are the mapped events of
`workload.MixedWorkload` deliveries (the normalizer's own mappers), built before timing. For each
history size one workload covers history + the measured batches, so the measured events are the
next ones of the same services; each of `runs` batches of `measured_events` is timed on its own.
The engine with the large history is kept for the read-API scenario.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from bench.context import BenchContext
from bench.results import Figure, Target
from metrics_worker.engine import MetricEngine
from metricsync.settings import Settings
from metricsync.simulation.workload import MixedWorkload
from normalizer.mapping import map_delivery
from schemas.events import UnifiedEvent

log = logging.getLogger(__name__)

SCENARIO = "5 cost as history grows"
SERVICES = 500
CHUNK = 20_000


def _events(workload: MixedWorkload) -> Iterator[UnifiedEvent]:
    rules = Settings().mapping_rules()
    for generated in workload:
        yield from map_delivery(generated.delivery, rules)


def _take(events: Iterator[UnifiedEvent], count: int) -> list[UnifiedEvent]:
    out: list[UnifiedEvent] = []
    for event in events:
        out.append(event)
        if len(out) >= count:
            break
    return out


def build(history: int, measured: int, runs: int, services: int, end: datetime) -> tuple[MetricEngine, list[float]]:
    """An engine with `history` events applied, then `runs` timed batches of `measured`: (engine, µs/event)."""
    workload = MixedWorkload(services, history + measured * runs, end=end, prefix=f"h{history}")
    stream = _events(workload)
    engine = MetricEngine(Settings().engine_config())
    applied = 0
    started = time.perf_counter()
    while applied < history:
        chunk = _take(stream, min(CHUNK, history - applied))
        if not chunk:
            break
        engine.apply_many(chunk)
        applied += len(chunk)
    log.info("  history of %d events built in %.0f s", applied, time.perf_counter() - started)
    costs = []
    for _ in range(runs):
        batch = _take(stream, measured)
        gc.collect()
        t0 = time.perf_counter()
        engine.apply_many(batch)
        costs.append((time.perf_counter() - t0) / max(1, len(batch)) * 1e6)
    return engine, costs


def run(ctx: BenchContext) -> None:
    sizes = ctx.sizes
    services = min(SERVICES, max(1, sizes.history_small // 20))
    end = datetime.now(UTC).replace(microsecond=0)
    _, small = build(sizes.history_small, sizes.measured_events, sizes.runs, services, end)
    engine, large = build(sizes.history_large, sizes.measured_events, sizes.runs, services, end)
    ctx.cache["engine"] = (engine, end, services, sizes.history_large)
    ctx.add(Figure(SCENARIO, f"engine cost, {sizes.history_small:,} events of history", "µs/event", small))
    ctx.add(Figure(SCENARIO, f"engine cost, {sizes.history_large:,} events of history", "µs/event", large))
    ratios = [b / a for a, b in zip(small, large, strict=True)]
    ctx.add(Figure(SCENARIO, "large / small", "x", ratios, Target("<=", 1.3)))
    ctx.note(
        SCENARIO,
        f"{services} services; {sizes.measured_events:,} events timed per run. "
        + " ".join((__doc__ or "").split("\n\n")[1].split()),
    )
