"""One batch of events into a live MetricEngine: apply, prune what left the retention, snapshot the
changed services. The embedded pipeline and the worker service both run their batches through
`apply_batch`, so the two modes count, prune and publish alike; what each does around it (offsets
and state logs in the worker, the bus in embedded mode) stays with them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from metrics_worker.documents import service_snapshot
from metrics_worker.engine import MetricEngine
from metricsync.pruning import PruneSchedule, prune
from schemas.events import UnifiedEvent


@dataclass(frozen=True, slots=True)
class Applied:
    changed: frozenset[str]  # services whose metrics may have changed
    pruned: frozenset[str]  # services rebuilt without history that left the retention
    snapshots: list[tuple[str, bytes]]  # (service, metrics-topic value) per changed service, by name
    as_of: datetime  # the snapshots' time

    @property
    def snapshot_at(self) -> datetime | None:
        """When snapshots were taken, None when nothing changed (for the pipeline observer)."""
        return self.as_of if self.changed else None


def apply_batch(
    engine: MetricEngine,
    events: Iterable[UnifiedEvent],
    clock: Callable[[], datetime],
    schedule: PruneSchedule,
) -> Applied:
    """Apply `events` (duplicates change nothing), prune when `schedule` says it is due, then build the
    snapshot of every changed service as of now. An exception leaves the engine partly updated: the
    caller must rebuild it from its store (or stop), never carry on with it."""
    changed = engine.apply_many(events)
    pruned: frozenset[str] = frozenset()
    if schedule.due():
        pruned = prune(engine, clock())
        schedule.done(len(pruned))
    as_of = clock()
    return Applied(
        changed, pruned, [(service, service_snapshot(engine, service, as_of)) for service in sorted(changed)], as_of
    )
