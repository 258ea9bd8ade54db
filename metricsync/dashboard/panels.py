"""Read routes the dashboard needs beyond the per-scope ones:

* `GET /api/v1/dora/services`: one row per service of the scope (all, a team's, or one) with its
  metrics over the window: the services table, in one request rather than one per service.
* `GET /api/v1/quality`: what makes the numbers less trustworthy, each with a count: dead letters,
  deployments without known changes, incidents without a service, changes with a negative lead time
  (excluded from the lead time).

Same parameters, token and errors as the rest of the read API.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from metricsync.web.contract import Answer, ApiRoute, Operation
from metricsync.web.queries import ScopeParams
from metricsync.web.read_api import API_AUTH, SCOPE_ERRORS, ReadApi, gzipped
from schemas.api import QualityResponse, ServicesMetricsResponse

UNKNOWN_SERVICE = "unknown"  # the service of an alert without a service label (normalizer.alertmanager)


class DashboardViews:
    def __init__(self, api: ReadApi) -> None:
        self.api = api

    def routes(self) -> list[BaseRoute]:
        guard = self.api._guard
        # one row per service: ~0.6 kB each, a tenth of that gzipped
        return [
            ApiRoute("/api/v1/dora/services", gzipped(guard(self.by_service)), BY_SERVICE),
            ApiRoute("/api/v1/quality", guard(self.quality), QUALITY),
        ]

    async def by_service(self, request: Request) -> Response:
        q, _ = await self.api.scope(request)
        engine = await self.api.source.engine_for(q.services)
        names = q.services if q.services is not None else [s.service for s in engine.services()]
        catalog = self.api.catalog
        rows: list[dict[str, Any]] = []
        for name in sorted(names):
            metrics = engine.report([name], q.environment, q.start, q.end)
            rows.append({"service": name, "team": catalog.team_of(name), **metrics.model_dump(mode="json")})
        return JSONResponse({"scope": q.scope_json(), "services": rows})

    async def quality(self, request: Request) -> Response:
        q, _ = await self.api.scope(request)
        engine = await self.api.source.engine_for(q.services)
        report = engine.report(q.services, q.environment, q.start, q.end)
        negative = engine.negative_lead_times(q.services, q.environment, q.start, q.end)
        known = {s.service for s in engine.services()}
        in_scope = q.services is None or UNKNOWN_SERVICE in q.services
        unattributed = (
            len(engine.incidents([UNKNOWN_SERVICE], q.environment, q.start, q.end))
            if in_scope and UNKNOWN_SERVICE in known
            else 0
        )
        dead_letters: object = None
        if self.api.extra_status is not None:
            dead_letters = (await self.api.extra_status()).get("dead_letters")
        return JSONResponse(
            {
                "scope": q.scope_json(),
                "dead_letters": dead_letters,
                "deployments_without_changes": report.lead_time.deployments_without_changes,
                "deployments": report.deployment_frequency.deployments,
                "incidents_without_service": unattributed,
                "negative_lead_time_changes": negative,
            }
        )


BY_SERVICE = Operation(
    "The metrics of each service of a scope over the window (the dashboard's services table)",
    {200: Answer("one row per service", ServicesMetricsResponse), **SCOPE_ERRORS},
    query=ScopeParams,
    security=API_AUTH,
    tags=("metrics",),
)
QUALITY = Operation(
    "What makes the numbers of a scope less trustworthy, counted",
    {200: Answer("the counts", QualityResponse), **SCOPE_ERRORS},
    query=ScopeParams,
    security=API_AUTH,
    tags=("metrics",),
)
