"""The JSON documents the read API and the metrics topic serve, built from a MetricEngine (pure: callers
pass the times)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson

from metrics_worker.state import PRODUCTION
from schemas.insights import InsightsReport, Window
from schemas.leadtime import LeadTimeReport
from schemas.metrics import DoraReport, Scope

if TYPE_CHECKING:
    from metrics_worker.engine import MetricEngine

DEFAULT_WINDOW = timedelta(days=30)
INSIGHTS_WINDOW = timedelta(days=14)  # `/insights` compares the last 14 days with the 14 before


def dora_report(
    engine: MetricEngine,
    *,
    services: Collection[str] | None,
    service: str | None,
    team: str | None,
    environment: str,
    start: datetime,
    end: datetime,
) -> dict[str, Any]:
    metrics = engine.report(services, environment, start, end)
    scope = _scope(engine, services, service, team, environment, start, end)
    document = DoraReport(scope=scope, **dict(metrics)).model_dump(mode="json")
    return {"scope": document.pop("scope"), **document}  # scope first, as the API documents it


def service_snapshot(engine: MetricEngine, service: str, as_of: datetime) -> bytes:
    """The metrics-topic value for one service: its last-30-days report plus `as_of`."""
    document = dora_report(
        engine,
        services=[service],
        service=service,
        team=None,
        environment=PRODUCTION,
        start=as_of - DEFAULT_WINDOW,
        end=as_of,
    )
    document["as_of"] = as_of.isoformat().replace("+00:00", "Z")
    return orjson.dumps(document)


def _scope(
    engine: MetricEngine,
    services: Collection[str] | None,
    service: str | None,
    team: str | None,
    environment: str,
    start: datetime,
    end: datetime,
) -> Scope:
    return Scope(
        service=service,
        team=team,
        environment=environment,
        from_=start,
        to=end,
        retained_from=engine.retained_from(services, start),
        history_from=engine.history_from(services, environment, start),
    )


def lead_time_report(
    engine: MetricEngine,
    *,
    services: Collection[str] | None,
    service: str | None,
    team: str | None,
    environment: str,
    start: datetime,
    end: datetime,
    limit: int,
) -> dict[str, Any]:
    """`/api/v1/lead-time` (docs/metrics.md section 14)."""
    breakdown, slowest = engine.lead_time(services, environment, start, end, limit)
    scope = _scope(engine, services, service, team, environment, start, end)
    report = LeadTimeReport(scope=scope, slowest=slowest, **dict(breakdown))
    document = report.model_dump(mode="json", by_alias=True)
    return {"scope": document.pop("scope"), **document}


def insights_report(
    engine: MetricEngine,
    *,
    services: Collection[str] | None,
    service: str | None,
    team: str | None,
    environment: str,
    start: datetime,
    end: datetime,
    teams: dict[str, str],
    unknown_service: str | None,
    dead_letters: int | None,
) -> dict[str, Any]:
    """`/api/v1/insights` (docs/metrics.md section 15): the window against the one of equal length before."""
    link_scope = {"service": service} if service else {"team": team} if team else {}
    findings = engine.insights(
        services,
        environment,
        start,
        end,
        scope=link_scope,
        teams=teams,
        unknown_service=unknown_service,
        dead_letters=dead_letters,
    )
    report = InsightsReport(
        scope=_scope(engine, services, service, team, environment, start, end),
        compared_with=Window(from_=start - (end - start), to=start),
        findings=findings,
    )
    return report.model_dump(mode="json", by_alias=True)
