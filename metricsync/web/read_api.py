"""The read API: `/api/v1/...`, the same contract in embedded and distributed mode.

Routes take a `MetricsSource`: something that hands out a MetricEngine holding the state of the
services asked for (embedded: the live engine; distributed: state loaded from MongoDB). The same
documents are served as MCP tools at `/mcp` (metricsync/web/mcp.py), through `fetch`: the route
handlers themselves, so the tools' JSON is the API's. The app serving the routes runs `running()`
in its lifespan (the MCP session manager).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode

import orjson
from pydantic import SecretStr, TypeAdapter
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, request_response
from starlette.types import ASGIApp

from metrics_worker.documents import DEFAULT_WINDOW, INSIGHTS_WINDOW, dora_report, insights_report, lead_time_report
from metrics_worker.state import PRODUCTION
from metrics_worker.timebase import Interval
from metricsync.web.contract import Answer, ApiRoute, BadQueryError, Operation, parse_query
from metricsync.web.csv_export import DEPLOYMENT_COLUMNS, INCIDENT_COLUMNS, Column, csv_response, wants_csv
from metricsync.web.mcp import McpEndpoint, ReadError
from metricsync.web.paging import Key, micros, next_link, paginate
from metricsync.web.queries import LeadTimeParams, ListParams, NoParams, ScopeParams, SeriesParams
from normalizer.alert_labels import UNKNOWN_SERVICE
from schemas.api import DeploymentsPage, IncidentsPage, ServicesResponse, Status
from schemas.api import SeriesResponse as SeriesDocument
from schemas.catalog import ServiceCatalog
from schemas.insights import InsightsReport
from schemas.leadtime import LeadTimeReport
from schemas.metrics import DeploymentView, DoraReport, IncidentView, SeriesPoint
from schemas.ports import MetricsSource

if TYPE_CHECKING:
    from metrics_worker.engine import MetricEngine

__all__ = ["BadQueryError", "MetricsSource", "ReadApi", "parse_time"]

INTERVALS: tuple[Interval, ...] = ("day", "week", "month")
MAX_SERIES_BUCKETS = 3700
GZIP_MINIMUM = 2048  # bytes: smaller answers go as they are
Handler = Callable[[Request], Awaitable[Response]]
View = TypeVar("View", DeploymentView, IncidentView)


def gzipped(handler: Handler) -> ASGIApp:
    """`handler` as an ASGI app that gzips answers of 2 kB or more for clients that accept it (JSON and CSV:
    /api/v1/services is ~73 kB for 500 services, ~4 kB gzipped). Per route, so the event streams are never
    buffered by it."""
    return GZipMiddleware(request_response(handler), minimum_size=GZIP_MINIMUM, compresslevel=6)


def _problem(code: str, detail: str, status: int) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status)


_SERIES_POINTS = TypeAdapter(list[SeriesPoint])


class SeriesResponse(JSONResponse):
    """{"scope": ..., "points": [...]}, byte for byte what JSONResponse makes of the points' model_dump(mode=
    "json"), with the points serialized by pydantic-core in one call (a year of days: about a third of the
    time). The two write floats alike except below 1e-4 (0.00005 and 1.5e-7 against 5e-05 and 1.5e-07);
    such a number shows as ":0.0000" or "e-" (no key, level or timestamp of a point has either), and a
    document with one is rendered the slow way."""

    def __init__(self, scope: dict[str, Any], points: list[SeriesPoint]) -> None:
        super().__init__({"scope": scope, "points": points})

    def render(self, content: Any) -> bytes:
        points = _SERIES_POINTS.dump_json(content["points"], by_alias=True)
        if b":0.0000" in points or b"e-" in points:
            dumped = [p.model_dump(mode="json", by_alias=True) for p in content["points"]]
            return super().render({"scope": content["scope"], "points": dumped})
        return b'{"scope":' + super().render(content["scope"]) + b',"points":' + points + b"}"


def parse_time(name: str, text: str) -> datetime:
    """ISO 8601 date or date-time; a time without offset is UTC."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadQueryError(
            "bad_time",
            f"query parameter '{name}'={text!r} is not ISO 8601 (e.g. 2024-05-01 or 2024-05-01T12:00:00Z)",
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Query:
    """A read request's scope and window, validated."""

    services: list[str] | None  # None: all services
    service: str | None
    team: str | None
    environment: str
    start: datetime
    end: datetime

    def scope_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "team": self.team,
            "environment": self.environment,
            "from": _iso(self.start),
            "to": _iso(self.end),
        }


class ReadApi:
    def __init__(
        self,
        source: MetricsSource[MetricEngine],
        catalog: ServiceCatalog,
        api_token: SecretStr | None,
        clock: Callable[[], datetime],
        extra_status: Callable[[], Awaitable[dict[str, object]]] | None = None,
    ) -> None:
        self.source = source
        self.catalog = catalog
        self.api_token = api_token
        self.clock = clock
        self.extra_status = extra_status
        self.handlers: dict[str, Handler] = {
            "/api/v1/dora": self.dora,
            "/api/v1/dora/series": self.series,
            "/api/v1/services": self.services,
            "/api/v1/deployments": self.deployments,
            "/api/v1/incidents": self.incidents,
            "/api/v1/lead-time": self.lead_time,
            "/api/v1/insights": self.insights,
            "/api/v1/status": self.status,
        }
        self.mcp = McpEndpoint(self.fetch, api_token)

    def routes(self) -> list[BaseRoute]:
        guard = self._guard
        routes: list[BaseRoute] = [
            ApiRoute(path, gzipped(guard(handler)), OPERATIONS[path]) for path, handler in self.handlers.items()
        ]
        routes.append(ApiRoute("/mcp", self.mcp, MCP, methods=["POST"]))
        routes.append(ApiRoute("/mcp", self.mcp, MCP_STREAM, methods=["GET", "DELETE"]))
        return routes

    def running(self) -> AbstractAsyncContextManager[None]:
        """What the serving app's lifespan must run: the MCP session manager of `/mcp`."""
        return self.mcp.running()

    async def fetch(self, path: str, params: Mapping[str, str]) -> dict[str, Any]:
        """The JSON document a GET of `path` with `params` answers (for the MCP tools; no token check:
        `/mcp` checks it). A refused query raises ReadError with the API's status, code and detail."""
        handler = self.handlers[path]
        scope = {
            "type": "http",
            "method": "GET",
            "path": path,
            "query_string": urlencode(dict(params)).encode(),
            "headers": [],
        }
        try:
            response = await handler(Request(scope))
        except BadQueryError as e:
            raise ReadError(e.status, e.code, e.detail) from e
        document: dict[str, Any] = orjson.loads(bytes(response.body))
        return document

    def guard(self, handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        """`handler` behind the API token, with BadQueryError answered as a problem (other routes use it too)."""
        return self._guard(handler)

    def _guard(self, handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def guarded(request: Request) -> Response:
            if self.api_token is not None:
                header = request.headers.get("authorization", "")
                scheme, _, token = header.partition(" ")
                expected = self.api_token.get_secret_value().encode()
                if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected):
                    return _problem(
                        "unauthorized",
                        "the read API needs 'Authorization: Bearer <METRICSYNC_API_TOKEN>'",
                        401,
                    )
            try:
                return await handler(request)
            except BadQueryError as e:
                return _problem(e.code, e.detail, e.status)

        return guarded

    # --- scope -----------------------------------------------------------------------------------

    async def scope(self, request: Request, model: type[ScopeParams] = ScopeParams) -> tuple[Query, ScopeParams]:
        """The request's scope and window, its query read strictly as `model` (routes outside this module,
        e.g. the dashboard's, use it); the parsed parameters too, for a model with more of them."""
        params = parse_query(request.query_params, model)
        return await self._query(params), params

    async def _query(self, params: ScopeParams, default: timedelta = DEFAULT_WINDOW) -> Query:
        service = params.service
        team = params.team
        environment = (params.environment or PRODUCTION).lower()
        start, end = self._window(params, default)
        if service and team:
            raise BadQueryError("bad_scope", "give either 'service' or 'team', not both")
        if service:
            service = self.catalog.resolve(service)
            known = await self.source.known_services()
            if service not in known and service not in self.catalog.services:
                raise BadQueryError("unknown_service", f"no events for service '{service}' yet", 404)
            return Query([service], service, None, environment, start, end)
        if team:
            members = self.catalog.team_services(team)
            if not members:
                raise BadQueryError("unknown_team", f"team '{team}' is not in the config file (METRICSYNC_CONFIG)", 404)
            return Query(sorted(members), None, team, environment, start, end)
        return Query(None, None, None, environment, start, end)

    def _window(self, params: ScopeParams, default: timedelta = DEFAULT_WINDOW) -> tuple[datetime, datetime]:
        end = parse_time("to", params.to) if params.to is not None else self.clock()
        start = parse_time("from", params.from_) if params.from_ is not None else end - default
        if start >= end:
            raise BadQueryError("bad_window", f"'from' ({start.isoformat()}) must be before 'to' ({end.isoformat()})")
        return start, end

    # --- handlers --------------------------------------------------------------------------------

    async def dora(self, request: Request) -> Response:
        q = await self._query(parse_query(request.query_params, ScopeParams))
        engine = await self.source.engine_for(q.services)
        body = dora_report(
            engine,
            services=q.services,
            service=q.service,
            team=q.team,
            environment=q.environment,
            start=q.start,
            end=q.end,
        )
        return JSONResponse(body)

    async def series(self, request: Request) -> Response:
        params = parse_query(request.query_params, SeriesParams)
        q = await self._query(params)
        interval: Interval = params.interval
        if interval == "day" and (q.end - q.start).days > MAX_SERIES_BUCKETS:
            raise BadQueryError("window_too_large", f"at most {MAX_SERIES_BUCKETS} daily buckets; use week or month")
        engine = await self.source.engine_for(q.services)
        points = engine.series(q.services, q.environment, q.start, q.end, interval)
        retained = engine.retained_from(q.services, q.start)
        history = engine.history_from(q.services, q.environment, q.start)
        scope = {
            **q.scope_json(),
            "retained_from": None if retained is None else _iso(retained),
            "history_from": None if history is None else _iso(history),
        }
        if params.include is None:
            return SeriesResponse({**scope, "interval": interval}, points)
        stages = engine.stage_series(q.services, q.environment, q.start, q.end, interval)
        dumped = [
            {**point.model_dump(mode="json", by_alias=True), "stages": breakdown.model_dump(mode="json")}
            for point, breakdown in zip(points, stages, strict=True)
        ]
        return JSONResponse({"scope": {**scope, "interval": interval}, "points": dumped})

    async def lead_time(self, request: Request) -> Response:
        params = parse_query(request.query_params, LeadTimeParams)
        q = await self._query(params)
        limit = params.limit
        engine = await self.source.engine_for(q.services)
        body = lead_time_report(
            engine,
            services=q.services,
            service=q.service,
            team=q.team,
            environment=q.environment,
            start=q.start,
            end=q.end,
            limit=limit,
        )
        return JSONResponse(body)

    async def insights(self, request: Request) -> Response:
        q = await self._query(parse_query(request.query_params, ScopeParams), INSIGHTS_WINDOW)
        try:
            q.start - (q.end - q.start)  # the window compared with: as long, just before
        except OverflowError:
            raise BadQueryError(
                "bad_window", "'from' is too early: the window compared with it would start before year 1"
            ) from None
        engine = await self.source.engine_for(q.services)
        teams = {s.service: team for s in engine.services() if (team := self.catalog.team_of(s.service))}
        body = insights_report(
            engine,
            services=q.services,
            service=q.service,
            team=q.team,
            environment=q.environment,
            start=q.start,
            end=q.end,
            teams=teams if q.team is None and q.service is None else {},
            unknown_service=UNKNOWN_SERVICE,
            dead_letters=await self._dead_letters(),
        )
        return JSONResponse(body)

    async def _dead_letters(self) -> int | None:
        """The dead-letter count the serving mode reports in /status (None: it reports none)."""
        if self.extra_status is None:
            return None
        count = (await self.extra_status()).get("dead_letters")
        return count if isinstance(count, int) else None

    async def services(self, request: Request) -> Response:
        parse_query(request.query_params, NoParams)
        engine = await self.source.engine_for(None)
        rows = []
        for summary in engine.services():
            row = summary.model_dump(mode="json")
            row["team"] = self.catalog.team_of(summary.service)
            rows.append(row)
        return JSONResponse({"services": rows})

    async def deployments(self, request: Request) -> Response:
        return await self._listing(
            request,
            "deployments",
            lambda e, q: e.deployments(q.services, q.environment, q.start, q.end),
            _deployment_key,
            DEPLOYMENT_COLUMNS,
        )

    async def incidents(self, request: Request) -> Response:
        return await self._listing(
            request,
            "incidents",
            lambda e, q: e.incidents(q.services, q.environment, q.start, q.end),
            _incident_key,
            INCIDENT_COLUMNS,
        )

    async def _listing(
        self,
        request: Request,
        name: str,
        rows: Callable[[MetricEngine, Query], Sequence[View]],
        key: Callable[[View], Key],
        columns: Sequence[Column],
    ) -> Response:
        """A page of a list route (`name`: its JSON key), as JSON or CSV, with its `next` link."""
        params = parse_query(request.query_params, ListParams)
        q = await self._query(params)
        engine = await self.source.engine_for(q.services)
        page = paginate(rows(engine, q), key, params.cursor, params.limit)
        link = next_link(request, page.cursor)
        headers = {"Link": f'<{link}>; rel="next"'} if link else None
        if wants_csv(request, params.format):
            return csv_response(columns, page.items, headers)
        body = {"scope": q.scope_json(), name: [v.model_dump(mode="json") for v in page.items], "next": link}
        return JSONResponse(body, headers=headers)

    async def status(self, request: Request) -> Response:
        parse_query(request.query_params, NoParams)
        body: dict[str, object] = {"as_of": _iso(self.clock())}
        if self.extra_status is not None:
            body.update(await self.extra_status())
        return JSONResponse(body)


def _deployment_key(view: DeploymentView) -> Key:
    return (micros(view.finished_at), view.service, view.deployment_id)


def _incident_key(view: IncidentView) -> Key:
    return (micros(view.started_at), view.service, view.incident_id)


# --- the contract of each route (metricsync.web.contract; docs/api.md) --------------------------------

_ERRORS = {
    400: Answer("a query parameter is unknown, repeated or invalid (`error` names the problem)"),
    401: Answer("METRICSYNC_API_TOKEN is set and the request does not carry it"),
}
SCOPE_ERRORS = {**_ERRORS, 404: Answer("`service` has no events and is not in the catalog, or `team` is unknown")}
API_AUTH = ("apiToken", "")  # the bearer token, or none when METRICSYNC_API_TOKEN is unset
NEXT_LINK = {"Link": '`<URL of the next page>; rel="next"`, absent on the last page'}

DORA = Operation(
    "The DORA metrics of a scope and window",
    {200: Answer("the metrics (docs/metrics.md)", DoraReport), **SCOPE_ERRORS},
    query=ScopeParams,
    security=API_AUTH,
    tags=("metrics",),
)
SERIES = Operation(
    "The metrics per day, week or month of a window",
    {200: Answer("one point per bucket", SeriesDocument), **SCOPE_ERRORS},
    query=SeriesParams,
    security=API_AUTH,
    tags=("metrics",),
)
SERVICES = Operation(
    "Every service with events, and its team",
    {200: Answer("the services", ServicesResponse), **_ERRORS},
    query=NoParams,
    security=API_AUTH,
    tags=("metrics",),
)
DEPLOYMENTS = Operation(
    "The successful deployments of a scope and window, with every fact the metrics derive from them",
    {200: Answer("a page, oldest first", DeploymentsPage, csv=True, headers=NEXT_LINK), **SCOPE_ERRORS},
    query=ListParams,
    security=API_AUTH,
    tags=("metrics",),
)
INCIDENTS = Operation(
    "The merged incidents starting in a scope and window",
    {200: Answer("a page, oldest first", IncidentsPage, csv=True, headers=NEXT_LINK), **SCOPE_ERRORS},
    query=ListParams,
    security=API_AUTH,
    tags=("metrics",),
)
LEAD_TIME = Operation(
    "Where lead time goes: each stage from first commit to production, and the slowest changes",
    {200: Answer("the breakdown (docs/metrics.md section 14)", LeadTimeReport), **SCOPE_ERRORS},
    query=LeadTimeParams,
    security=API_AUTH,
    tags=("metrics",),
)
INSIGHTS = Operation(
    "What changed: the window (default 14 days) against the one of equal length before it",
    {200: Answer("the findings (docs/metrics.md section 15)", InsightsReport), **SCOPE_ERRORS},
    query=ScopeParams,
    security=API_AUTH,
    tags=("metrics",),
)
STATUS = Operation(
    "How far the pipeline is",
    {200: Answer("counts, positions, lag", Status), **_ERRORS},
    query=NoParams,
    security=API_AUTH,
    tags=("operations",),
)

_MCP = (
    "The Model Context Protocol over streamable HTTP (stateless, JSON responses): the bodies are JSON-RPC 2.0 "
    "messages the protocol defines (https://modelcontextprotocol.io). Tools: dora_report, dora_series, "
    "deployments, incidents, lead_time, insights; each answers the JSON of its read API endpoint "
    "(docs/api.md, MCP)."
)
MCP = Operation(
    "MCP tools over the read API (for AI assistants)",
    {
        200: Answer("a JSON-RPC 2.0 response (protocol-defined)", None, media="application/json"),
        202: Answer("a notification or response was accepted (no body)", None),
        400: Answer("not a valid MCP message", None),
        401: Answer("METRICSYNC_API_TOKEN is set and the request does not carry it"),
        406: Answer("`Accept` must name application/json and text/event-stream", None),
    },
    description=_MCP,
    security=API_AUTH,
    request_body="a JSON-RPC 2.0 request or notification of MCP (e.g. `initialize`, `tools/list`, `tools/call`)",
    tags=("mcp",),
)
MCP_STREAM = Operation(
    "MCP's server-sent message stream (GET) and session end (DELETE), as the protocol defines them",
    {
        200: Answer("GET: an event stream that stays open while the client listens", None, media="text/event-stream"),
        401: Answer("METRICSYNC_API_TOKEN is set and the request does not carry it"),
    },
    description=_MCP,
    security=API_AUTH,
    tags=("mcp",),
)

OPERATIONS = {
    "/api/v1/dora": DORA,
    "/api/v1/dora/series": SERIES,
    "/api/v1/services": SERVICES,
    "/api/v1/deployments": DEPLOYMENTS,
    "/api/v1/incidents": INCIDENTS,
    "/api/v1/lead-time": LEAD_TIME,
    "/api/v1/insights": INSIGHTS,
    "/api/v1/status": STATUS,
}


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
