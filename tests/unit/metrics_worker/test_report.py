"""Reports over scopes, windows, environments and series; the engine's write contract (duplicates, return
values, arrival order, export/import)."""

import random
from datetime import UTC, datetime, timedelta
from typing import cast

import orjson
import pytest

from metrics_worker.engine import EngineConfig, MetricEngine
from metrics_worker.persist import StateFormatError
from schemas.events import UnifiedEvent
from tests.unit.metrics_worker.factories import (
    HOUR,
    WEEK,
    ZERO,
    at,
    deploy,
    engine_of,
    flatten,
    incident,
    pipeline_run,
    pr_merged,
    push,
    report_of,
)
from tests.unit.metrics_worker.test_failures import FAILURE_CASES
from tests.unit.metrics_worker.test_lead_time import CASES as LEAD_TIME_CASES


def two_services() -> list[UnifiedEvent]:
    """a: one change (lead 1h); b: two changes (leads 3h, 5h), and an incident that fails b's deployment."""
    return flatten(
        push("A1", ZERO, [("a1", 0)], service="a"),
        deploy("DA", "a1", 1, service="a"),
        push("B1", ZERO, [("b1", 0), ("b2", 2)], service="b"),
        deploy("DB", "b2", 5, service="b"),
        incident("IB", 6, 8, service="b"),
    )


@pytest.mark.parametrize(
    ("services", "median", "deployments", "failed", "rate"),
    [
        pytest.param(["a"], 1 * HOUR, 1, 0, 0.0, id="service-a"),
        pytest.param(["b"], 4 * HOUR, 1, 1, 1.0, id="service-b"),  # (3h + 5h) / 2
        # pooled [1h, 3h, 5h] -> 3h, not the mean of the medians (1h + 4h) / 2 = 2.5h
        pytest.param(["a", "b"], 3 * HOUR, 2, 1, 0.5, id="team-pools-samples"),
        pytest.param(None, 3 * HOUR, 2, 1, 0.5, id="all-services"),
        pytest.param(["a", "unknown"], 1 * HOUR, 1, 0, 0.0, id="unknown-ignored"),
    ],
)
def test_scopes_pool_samples(
    services: list[str] | None, median: float, deployments: int, failed: int, rate: float
) -> None:
    report = report_of(engine_of(two_services()), services)
    assert report.lead_time.median_seconds == median
    cfr = report.change_failure_rate
    assert (cfr.deployments, cfr.failed_deployments, cfr.rate) == (deployments, failed, rate)


def test_deployment_frequency() -> None:
    # 3 deployments on 2 UTC days (Mon 01:00, Mon 02:00, Tue 06:00) in 7 days: 3/7 per day -> high (>= 1/7)
    engine = engine_of(deploy("D1", "a", 1), deploy("D2", "b", 2), deploy("D3", "c", 30))
    frequency = report_of(engine).deployment_frequency
    assert (frequency.deployments, frequency.deploy_days, frequency.per_day, frequency.level) == (3, 2, 3 / 7, "high")


@pytest.mark.parametrize(
    "window",
    [
        pytest.param((at(100), at(200)), id="window-without-events"),
        pytest.param((at(-500), at(-400)), id="window-before-everything"),
    ],
)
def test_empty_window_gives_nulls(window: tuple[datetime, datetime]) -> None:
    report = report_of(engine_of(two_services()), window=window)
    assert report.model_dump() == {
        "deployment_frequency": {
            "deployments": 0,
            "deploy_days": 0,
            "per_day": 0.0,
            "failed_attempts": 0,
            "level": None,
        },
        "lead_time": {
            "median_seconds": None,
            "mean_seconds": None,
            "p90_seconds": None,
            "changes": 0,
            "deployments_without_changes": 0,
            "level": None,
        },
        "change_failure_rate": {"rate": None, "failed_deployments": 0, "deployments": 0, "level": None},
        "time_to_restore": {
            "median_seconds": None,
            "mean_seconds": None,
            "p90_seconds": None,
            "incidents": 0,
            "open_incidents": 0,
            "level": None,
        },
        "failed_deployment_recovery": {"median_seconds": None, "mean_seconds": None, "samples": 0},
        "rework_rate": {"rate": None, "rework_deployments": 0, "deployments": 0},
    }


def test_zero_length_window_has_no_rate() -> None:
    report = report_of(engine_of(two_services()), window=(at(1), at(1)))
    assert (report.deployment_frequency.per_day, report.deployment_frequency.level) == (None, None)


def test_window_is_half_open() -> None:
    engine = engine_of(deploy("D1", "a", 0), deploy("D2", "b", 24))
    assert report_of(engine, window=(at(0), at(24))).deployment_frequency.deployments == 1  # D1 in, D2 out


@pytest.mark.parametrize(
    ("environment", "deployments"),
    [
        pytest.param("production", 2, id="production-means-production-flag"),  # prod-eu and production
        pytest.param("Production", 2, id="case-insensitive"),
        pytest.param("prod-eu", 1, id="by-name"),
        pytest.param("PROD-EU", 1, id="by-name-case-insensitive"),
        pytest.param("staging", 1, id="non-production-by-name"),
        pytest.param("qa", 0, id="unknown-environment"),
    ],
)
def test_environment_filtering(environment: str, deployments: int) -> None:
    engine = engine_of(
        deploy("D1", "a", 0, environment="production"),
        deploy("D2", "b", 1, environment="prod-eu"),
        deploy("D3", "c", 2, environment="staging"),
    )
    assert report_of(engine, environment=environment).deployment_frequency.deployments == deployments


def test_incidents_blame_deployments_of_their_own_environment() -> None:
    # the staging incident at 1h must not fail the production deployment at 0h
    engine = engine_of(deploy("D1", "a", 0), incident("S", 1, 2, environment="staging"))
    assert report_of(engine).change_failure_rate.failed_deployments == 0
    assert report_of(engine, environment="staging").time_to_restore.incidents == 1


def test_incidents_blame_deployments_of_their_own_service() -> None:
    engine = engine_of(deploy("D1", "a", 0, service="x"), incident("I", 1, 2, service="y"))
    assert report_of(engine).change_failure_rate.failed_deployments == 0


@pytest.mark.parametrize(
    ("interval", "start", "end", "buckets"),
    [
        pytest.param(
            "day",
            datetime(2026, 3, 2, 12, tzinfo=UTC),
            datetime(2026, 3, 4, 6, tzinfo=UTC),
            [("2026-03-02T12:00", "2026-03-03T00:00", 2), ("2026-03-03T00:00", "2026-03-04T00:00", 1),
             ("2026-03-04T00:00", "2026-03-04T06:00", 0)],
            id="days-clipped-to-the-window",
        ),
        pytest.param(
            "week",
            datetime(2026, 3, 1, tzinfo=UTC),  # a Sunday
            datetime(2026, 3, 18, tzinfo=UTC),  # a Wednesday
            [("2026-03-01T00:00", "2026-03-02T00:00", 0), ("2026-03-02T00:00", "2026-03-09T00:00", 3),
             ("2026-03-09T00:00", "2026-03-16T00:00", 1), ("2026-03-16T00:00", "2026-03-18T00:00", 0)],
            id="iso-weeks-start-monday",
        ),
        pytest.param(
            "month",
            datetime(2026, 2, 15, tzinfo=UTC),
            datetime(2026, 4, 10, tzinfo=UTC),
            [("2026-02-15T00:00", "2026-03-01T00:00", 0), ("2026-03-01T00:00", "2026-04-01T00:00", 4),
             ("2026-04-01T00:00", "2026-04-10T00:00", 0)],
            id="calendar-months",
        ),
    ],
)  # fmt: skip
def test_series_buckets(interval: str, start: datetime, end: datetime, buckets: list[tuple[str, str, int]]) -> None:
    # deployments Mon 2 Mar 13:00 and 20:00, Tue 3 Mar 10:00, Tue 10 Mar 00:00
    engine = engine_of(deploy("D1", "a", 13), deploy("D2", "b", 20), deploy("D3", "c", 34), deploy("D4", "d", 192))
    points = engine.series(None, "production", start, end, interval)  # type: ignore[arg-type]
    got = [
        (p.from_.isoformat()[:16], p.to.isoformat()[:16], p.metrics.deployment_frequency.deployments) for p in points
    ]
    assert got == buckets


def test_series_point_per_day_uses_the_clipped_length() -> None:
    engine = engine_of(deploy("D1", "a", 13))
    [point] = engine.series(None, "production", at(12), at(24), "day")
    assert point.metrics.deployment_frequency.per_day == 2.0  # 1 deployment in half a day


def test_duplicates_change_nothing() -> None:
    events = two_services()
    engine = engine_of(events)
    before = report_of(engine)
    assert engine.apply_many(events) == frozenset()
    assert engine.apply_many(reversed(events)) == frozenset()
    assert report_of(engine) == before


def test_apply_returns_the_services_whose_metrics_may_change() -> None:
    engine = MetricEngine(EngineConfig())
    assert engine.apply(deploy("D1", "a", 0, service="Shop")) == frozenset({"shop"})
    assert engine.apply_many([*incident("I", 1, 2, service="pay"), *push("P", ZERO, [("x", 0)])]) == {"pay", "svc"}
    assert engine.apply(pr_merged(1, 3, service="docs")) == frozenset()  # no metric uses it
    assert engine.apply(pipeline_run("r1", 4, service="docs")) == frozenset()
    summaries = {s.service: s for s in engine.services()}
    assert sorted(summaries) == ["docs", "pay", "shop", "svc"]
    assert (summaries["docs"].environments, summaries["docs"].last_event_at) == ([], at(4))
    assert (summaries["shop"].environments, summaries["pay"].last_event_at) == (["production"], at(2))


def test_environments_seen() -> None:
    engine = engine_of(deploy("D1", "a", 0, environment="prod-eu"), incident("I", 1, 2, environment="Staging"))
    [summary] = engine.services()
    assert summary.environments == ["prod-eu", "production", "staging"]


HAND_BUILT: list[list[UnifiedEvent]] = [
    cast(list[UnifiedEvent], case.values[0]) for case in [*LEAD_TIME_CASES, *FAILURE_CASES]
] + [two_services()]


@pytest.mark.parametrize("index", range(len(HAND_BUILT)))
def test_arrival_order_does_not_matter(index: int) -> None:
    """Every hand-built stream of these tests, in 50 random orders, gives the same views and reports."""
    events = HAND_BUILT[index]
    expected = _everything(engine_of(events))
    rng = random.Random(index)
    for _ in range(50):
        shuffled = list(events)
        rng.shuffle(shuffled)
        assert _everything(engine_of(shuffled)) == expected


@pytest.mark.parametrize("index", range(len(HAND_BUILT)))
def test_incremental_equals_rebuild(index: int) -> None:
    """Events applied one by one, reading after each, end where a fresh engine fed the whole log ends."""
    events = HAND_BUILT[index]
    live = MetricEngine(EngineConfig())
    for event in events:
        live.apply(event)
        _everything(live)
    rebuilt = MetricEngine(EngineConfig())
    rebuilt.apply_many(sorted(events, key=lambda e: (e.event_time, e.id)))
    assert _everything(live) == _everything(rebuilt)


@pytest.mark.parametrize("index", range(len(HAND_BUILT)))
def test_export_import_gives_identical_reports(index: int) -> None:
    engine = engine_of(HAND_BUILT[index])
    restored = MetricEngine(EngineConfig())
    for summary in engine.services():
        restored.import_service(summary.service, orjson.loads(orjson.dumps(engine.export_service(summary.service))))
    assert _everything(restored) == _everything(engine)


@pytest.mark.parametrize(
    ("state", "message"),
    [
        pytest.param({"format": 99}, "format 99", id="other-format"),
        pytest.param({"format": 1, "seen": []}, "damaged", id="missing-parts"),
    ],
)
def test_import_rejects_foreign_state(state: dict[str, object], message: str) -> None:
    engine = engine_of(two_services())
    before = report_of(engine)
    with pytest.raises(StateFormatError, match=message):
        engine.import_service("a", state)
    assert report_of(engine) == before


def test_export_of_an_unknown_service() -> None:
    with pytest.raises(KeyError, match="nope"):
        MetricEngine(EngineConfig()).export_service("nope")


def test_attribution_window_zero_is_unlimited() -> None:
    engine = MetricEngine(EngineConfig(attribution_window=timedelta(0)))
    engine.apply_many(flatten(deploy("D1", "a", 0), incident("I", 100, 101)))
    assert report_of(engine).change_failure_rate.failed_deployments == 1


def _everything(engine: MetricEngine) -> object:
    window = (at(-1000), at(1000))
    return [
        (
            report_of(engine, None, key, window),
            report_of(engine, None, key, WEEK),
            engine.deployments(None, key, *window),
            engine.incidents(None, key, *window),
        )
        for key in ("production", "staging")
    ]
