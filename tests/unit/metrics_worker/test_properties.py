"""Order does not matter, duplicates do not matter, and the incremental engine agrees with a slow model.

Streams are random but built like real ones (see randomized.py); each seed is checked against the
reference model, then replayed in many random orders, with duplicates, and through export/import.
"""

import random
import statistics
from datetime import datetime

import orjson
import pytest

from metrics_worker import report as report_module
from metrics_worker.engine import MetricEngine
from tests.unit.metrics_worker.factories import at, engine_of
from tests.unit.metrics_worker.randomized import EVERYTHING, KEYS, SERVICES, digest, random_stream, reports
from tests.unit.metrics_worker.reference import model

SEEDS = range(60)


@pytest.mark.parametrize("seed", SEEDS)
def test_engine_matches_reference_model(seed: int) -> None:
    events = random_stream(seed)
    engine = engine_of(events)
    got = digest(engine)
    for service in SERVICES:
        for key in KEYS:
            want = model(events, service, key, engine.config.attribution_window)
            assert got[(service, key)][0] == want[0], (service, key, "deployments")
            assert got[(service, key)][1] == want[1], (service, key, "incidents")


@pytest.mark.parametrize("seed", SEEDS)
def test_any_arrival_order_gives_the_same_state(seed: int) -> None:
    events = random_stream(seed)
    in_order = engine_of(events)
    expected, expected_reports = digest(in_order), reports(in_order)
    rng = random.Random(1000 + seed)
    for _ in range(15):
        shuffled = list(events)
        rng.shuffle(shuffled)
        engine = engine_of(shuffled)
        assert digest(engine) == expected
        assert reports(engine) == expected_reports


@pytest.mark.parametrize("seed", SEEDS[:20])
def test_reports_interleaved_with_events_do_not_disturb_state(seed: int) -> None:
    events = random_stream(seed)
    rng = random.Random(seed)
    rng.shuffle(events)
    engine = engine_of()
    for i, event in enumerate(events):
        engine.apply(event)
        if i % 7 == 0:
            reports(engine)
    assert digest(engine) == digest(engine_of(events))


@pytest.mark.parametrize("seed", SEEDS[:20])
def test_unlimited_attribution_window_matches_reference(seed: int) -> None:
    events = random_stream(seed)
    engine = engine_of(events, window_hours=None)
    got = digest(engine)
    for service in SERVICES:
        for key in KEYS:
            assert got[(service, key)] == model(events, service, key, None)


def _naive_report(
    engine: MetricEngine, services: list[str] | None, key: str, start: datetime, end: datetime
) -> dict[str, object]:
    """The report's numbers recounted from the drill-down views, with the statistics module."""
    views = engine.deployments(services, key, start, end)
    incidents = engine.incidents(services, key, start, end)
    leads = [c.lead_time_seconds for v in views for c in v.changes if c.lead_time_seconds >= 0]
    restores = [i.restore_seconds for i in incidents if i.restore_seconds is not None]
    recoveries = [v.recovery_seconds for v in views if v.recovery_seconds is not None]
    return {
        "deployments": len(views),
        "deploy_days": len({v.finished_at.date() for v in views}),
        "failed": sum(v.failed for v in views),
        "changes": len(leads),
        "lead_median": statistics.median(leads) if leads else None,
        "lead_p90": _p90(leads),
        "without_changes": sum(not v.changes for v in views),
        "recovery_median": statistics.median(recoveries) if recoveries else None,
        "recoveries": len(recoveries),
        "rework": sum(v.rework for v in views),
        "incidents": len(restores),
        "open": sum(i.resolved_at is None for i in incidents),
        "restore_median": statistics.median(restores) if restores else None,
    }


def _p90(values: list[float]) -> float | None:
    if len(values) < 2:
        return values[0] if values else None
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def _report_numbers(
    engine: MetricEngine, services: list[str] | None, key: str, start: datetime, end: datetime
) -> dict[str, object]:
    r = engine.report(services, key, start, end)
    return {
        "deployments": r.deployment_frequency.deployments,
        "deploy_days": r.deployment_frequency.deploy_days,
        "failed": r.change_failure_rate.failed_deployments,
        "changes": r.lead_time.changes,
        "lead_median": r.lead_time.median_seconds,
        "lead_p90": r.lead_time.p90_seconds,
        "without_changes": r.lead_time.deployments_without_changes,
        "recovery_median": r.failed_deployment_recovery.median_seconds,
        "recoveries": r.failed_deployment_recovery.samples,
        "rework": r.rework_rate.rework_deployments,
        "incidents": r.time_to_restore.incidents,
        "open": r.time_to_restore.open_incidents,
        "restore_median": r.time_to_restore.median_seconds,
    }


@pytest.mark.parametrize("seed", SEEDS[:30])
def test_report_agrees_with_the_drill_down_views(seed: int) -> None:
    events = random_stream(seed)
    rng = random.Random(seed)
    rng.shuffle(events)
    engine = engine_of(events)
    for services in (None, ["alpha"], ["beta"]):
        for key in KEYS:
            for start, end in [EVERYTHING, (at(0), at(24)), (at(5), at(31)), (at(20), at(300))]:
                got = _report_numbers(engine, services, key, start, end)
                want = _naive_report(engine, services, key, start, end)
                assert got == pytest.approx(want), (services, key, start, end)


@pytest.mark.parametrize("seed", SEEDS[:20])
def test_all_services_rollup_agrees_with_pooling_every_service(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """services=None reads day blocks; forcing its lead-time histogram shows it stays within 1 %."""
    monkeypatch.setattr(report_module, "EXACT_LEADS", 0)
    engine = engine_of(random_stream(seed))
    for key in KEYS:
        for start, end in [EVERYTHING, (at(3.5), at(47.25)), (at(-24), at(24 * 9 + 1)), (at(1), at(2))]:
            rolled = engine.report(None, key, start, end)
            exact = engine.report(list(SERVICES), key, start, end)
            assert rolled.model_dump(exclude={"lead_time"}) == exact.model_dump(exclude={"lead_time"})
            got, want = rolled.lead_time, exact.lead_time
            assert (got.changes, got.deployments_without_changes) == (want.changes, want.deployments_without_changes)
            for value, expected in [(got.median_seconds, want.median_seconds), (got.p90_seconds, want.p90_seconds)]:
                assert (value is None) == (expected is None)
                if value is not None and expected is not None:
                    assert value == pytest.approx(expected, rel=0.01, abs=1.0)


@pytest.mark.parametrize("seed", SEEDS[:20])
def test_export_import_round_trip(seed: int) -> None:
    events = random_stream(seed)
    engine = engine_of(events)
    states = {service: orjson.loads(orjson.dumps(engine.export_service(service))) for service in SERVICES}
    restored = engine_of()
    for service, state in states.items():
        restored.import_service(service, state)
    assert digest(restored) == digest(engine)
    assert reports(restored) == reports(engine)
    assert restored.services() == engine.services()
    assert restored.apply_many(events) == frozenset()  # every event is known: duplicates
    for service, state in states.items():  # replacing a service in place keeps the all-services totals right
        engine.import_service(service, state)
    assert reports(engine) == reports(restored)
