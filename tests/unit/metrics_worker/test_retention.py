"""Retention: MetricEngine.prune drops each service's facts older than its horizon (docs/metrics.md,
"Retention"), reads inside the retention do not change, and the pruned state is exactly what
applying only the events at or after the horizon gives."""

from datetime import timedelta

import orjson
import pytest

from metrics_worker.engine import EngineConfig, MetricEngine
from metrics_worker.persist import StateFormatError
from metrics_worker.state import fact_time
from metrics_worker.timebase import to_us
from schemas.events import UnifiedEvent
from tests.unit.metrics_worker.factories import HOUR, at, deploy, flatten, incident, push
from tests.unit.metrics_worker.randomized import SERVICES, digest, random_stream, reports

RETENTION = timedelta(days=10)  # 240 h; a state is rebuilt once it holds facts 60 h older than its horizon
EVERYTHING = (at(-1000), at(2000))
LATE = (at(600), at(800))  # a window well inside the retention


def example() -> list[UnifiedEvent]:
    """The worked example of docs/metrics.md: four deployments, two incidents over 30 days."""
    return flatten(
        push("p1", "0" * 40, [("c1", 0)]),
        deploy("d1", "c1", 2),  # lead 2 h
        push("p2", "c1", [("c2", 120)]),
        deploy("d2", "c2", 124),  # lead 4 h
        incident("i1", 125, 126),  # blamed on d2, restored in 1 h
        push("p3", "c2", [("c3", 480)]),
        deploy("d3", "c3", 495),  # lead 15 h
        push("p4", "c3", [("c4", 720)]),
        deploy("d4", "c4", 726),  # lead 6 h
        incident("i2", 730, 732),  # blamed on d4, restored in 2 h; its resolution is the last event (h732)
    )


def engine(retention: timedelta | None = RETENTION) -> MetricEngine:
    return MetricEngine(EngineConfig(retention=retention))


def test_prune_drops_facts_before_the_horizon_and_keeps_late_windows() -> None:
    e = engine()
    e.apply_many(example())
    before = e.report(None, "production", *EVERYTHING)
    # leads [2, 4, 15, 6] h: median 5 h; d2 and d4 failed: 2 of 4
    assert before.deployment_frequency.deployments == 4
    assert before.lead_time.median_seconds == 5 * HOUR
    assert before.change_failure_rate.failed_deployments == 2
    late_before = e.report(None, "production", *LATE)

    # horizon = last event (h732) - 240 h = h492; the oldest fact (c1, h0) is older than h492 - 60 h
    assert e.prune(at(10_000)) == {"svc"}
    assert e.horizon("svc") == at(492)
    assert [s.retained_from for s in e.services()] == [at(492)]  # what GET /api/v1/services shows
    # a window from before the horizon is flagged with it (the "retained_from" of a report's scope)
    assert e.retained_from(None, at(0)) == at(492)
    assert e.retained_from(["svc"], at(491)) == at(492)
    assert e.retained_from(["svc"], at(492)) is None  # starts at the horizon: all of it is kept
    assert e.retained_from(["other"], at(0)) is None
    after = e.report(None, "production", *EVERYTHING)
    # kept: d3 (finished h495, but its commit c3 at h480 is gone: a deployment without changes), d4, i2
    assert after.deployment_frequency.deployments == 2
    assert after.lead_time.changes == 1
    assert after.lead_time.median_seconds == 6 * HOUR
    assert after.lead_time.deployments_without_changes == 1
    assert after.change_failure_rate.failed_deployments == 1
    assert after.time_to_restore.incidents == 1
    assert after.time_to_restore.median_seconds == 2 * HOUR
    assert e.report(None, "production", *LATE) == late_before
    assert [v.deployment_id for v in e.deployments(None, "production", *EVERYTHING)] == ["d3", "d4"]
    assert [v.incident_id for v in e.incidents(None, "production", *EVERYTHING)] == ["i2"]


def test_no_rebuild_until_the_oldest_fact_is_a_quarter_retention_past_the_horizon() -> None:
    e = engine()
    events = [ev for ev in example() if to_us(ev.event_time) <= to_us(at(300))]  # last event: d2's h124
    e.apply_many(events)
    # horizon = h126 (i1 resolved) - 240 h = -h114; oldest fact h0 is not before -h114 - 60 h
    assert e.prune(at(10_000)) == frozenset()
    assert e.horizon("svc") is None
    e.apply_many(push("p9", "c2", [("c9", 240)]))  # last event h240: horizon h0, still no rebuild
    assert e.prune(at(10_000)) == frozenset()
    e.apply_many(push("p10", "c9", [("c10", 301)]))  # horizon h61: h0 < h61 - h60
    assert e.prune(at(10_000)) == {"svc"}
    assert e.horizon("svc") == at(61)


def test_events_older_than_the_horizon_are_ignored_and_duplicates_still_deduplicated() -> None:
    e = engine()
    events = example()
    e.apply_many(events)
    e.prune(at(10_000))
    kept = e.export_service("svc")
    assert e.apply_many(events) == frozenset()  # every one is either expired or a duplicate
    # 7 events are older than h492 (all but d3, c4, d4 and i2's two); seen ids are kept by UTC day, and c3
    # (h480) shares the horizon's day (T0 + 20 days), so it is a known duplicate rather than expired
    assert sum(1 for ev in events if fact_time(ev) < to_us(at(492))) == 7
    assert e.expired == 6
    assert e.export_service("svc") == kept
    # a late event at or after the horizon still counts: a deployment of c4 again at h500
    assert e.apply(deploy("d5", "c4", 500)) == {"svc"}
    assert e.report(None, "production", *EVERYTHING).deployment_frequency.deployments == 3


def test_the_horizon_follows_the_clock_when_events_come_from_the_future() -> None:
    e = engine()
    e.apply_many(example())
    # now = h400: horizon = h400 - 240 h = h160, not h492, so one skewed clock cannot expire the history
    assert e.prune(at(400)) == {"svc"}
    assert e.horizon("svc") == at(160)
    report = e.report(None, "production", *EVERYTHING)
    assert report.deployment_frequency.deployments == 2  # d3, d4
    assert report.lead_time.median_seconds == (6 + 15) / 2 * HOUR  # c3 (h480) is kept now


def test_without_retention_nothing_is_pruned() -> None:
    e = engine(None)
    e.apply_many(example())
    assert e.prune(at(10_000)) == frozenset()
    assert e.report(None, "production", *EVERYTHING).deployment_frequency.deployments == 4


def test_a_pruned_state_survives_export_and_import() -> None:
    e = engine()
    e.apply_many(example())
    e.prune(at(10_000))
    data = orjson.loads(orjson.dumps(e.export_service("svc")))
    assert data["format"] == 3
    assert data["horizon"] == to_us(at(492))
    copy = engine()
    copy.import_service("svc", data)
    assert copy.report(None, "production", *EVERYTHING) == e.report(None, "production", *EVERYTHING)
    assert copy.horizon("svc") == at(492)
    assert copy.apply(deploy("d1", "c1", 2)) == frozenset()  # the horizon came along
    assert copy.expired == 1


def test_format_1_states_are_still_read() -> None:
    e = engine(None)
    e.apply_many(example())
    data = e.export_service("svc")
    times: dict[str, int] = {}
    for _, _, _, rows in data["pushes"]:
        for _, sha, t in rows:
            times[sha] = min(t, times.get(sha, t))
    old = {  # what format 1 wrote: no horizon, ids without days, one (earliest) time per commit
        **data,
        "format": 1,
        "seen": [event_id for event_id, _ in data["seen"]],
        "pushes": [[p, b, a, [[pos, sha] for pos, sha, _ in rows]] for p, b, a, rows in data["pushes"]],
        "commit_times": times,
    }
    del old["horizon"]
    copy = engine()
    copy.import_service("svc", old)
    assert copy.report(None, "production", *EVERYTHING) == e.report(None, "production", *EVERYTHING)
    assert copy.apply_many(example()) == frozenset()  # seen ids came along
    with pytest.raises(StateFormatError, match="formats"):
        copy.import_service("svc", {**data, "format": 4})


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("split", [None, 0.5])
def test_pruned_state_equals_applying_only_the_retained_events(seed: int, split: float | None) -> None:
    """Random streams (random.py: rollbacks, overlapping incidents, late and duplicate events), pruned
    once at the end or also half-way: every derived deployment, incident and report equals a fresh
    engine's that saw only the events whose fact is at or after each service's final horizon."""
    events = random_stream(seed)
    retention = timedelta(hours=20)
    e = engine(retention)
    cut = len(events) if split is None else int(len(events) * split)
    e.apply_many(events[:cut])
    e.prune(at(10_000))
    e.apply_many(events[cut:])
    e.prune(at(10_000))
    horizons = {service: e.horizon(service) for service in SERVICES}
    assert any(h is not None for h in horizons.values()), "the streams are meant to outlast the retention"

    def kept(event: UnifiedEvent) -> bool:
        horizon = horizons[event.service]
        return horizon is None or fact_time(event) >= to_us(horizon)

    reference = engine(None)
    reference.apply_many([ev for ev in events if kept(ev)])
    assert digest(e) == digest(reference)
    assert reports(e) == reports(reference)


def test_a_limit_rebuilds_the_most_overdue_services_first() -> None:
    e = engine()
    e.apply_many(example())  # svc: oldest fact h0, horizon h492: 492 h overdue
    late = [ev.model_copy(update={"service": "late"}) for ev in example() if to_us(ev.event_time) >= to_us(at(120))]
    e.apply_many(late)  # late: oldest fact h120, same horizon: 372 h overdue
    assert e.prune(at(10_000), limit=1) == {"svc"}
    assert e.prune(at(10_000), limit=1) == {"late"}
    assert e.prune(at(10_000), limit=1) == frozenset()
    assert e.horizon("late") == at(492)
