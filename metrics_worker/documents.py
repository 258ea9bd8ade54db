"""The JSON documents the read API and the metrics topic serve, built from a MetricEngine (pure: callers
pass the times)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson

from metrics_worker.state import PRODUCTION
from schemas.metrics import DoraReport, Scope

if TYPE_CHECKING:
    from metrics_worker.engine import MetricEngine

DEFAULT_WINDOW = timedelta(days=30)


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
    scope = Scope(
        service=service,
        team=team,
        environment=environment,
        from_=start,
        to=end,
        retained_from=engine.retained_from(services, start),
    )
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
