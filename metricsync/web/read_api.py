"""The read API: `/api/v1/...`, the same contract in embedded and distributed mode.

Routes take a `MetricsSource`: something that hands out a MetricEngine holding the state of the
services asked for (embedded: the live engine; distributed: state loaded from MongoDB). The same
documents are served as MCP tools at `/mcp` (metricsync/web/mcp.py), through `fetch`: the route
handlers themselves, so the tools' JSON is the API's. The app serving the routes runs `running()`
in its lifespan (the MCP session manager).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import orjson
from pydantic import SecretStr, TypeAdapter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from metrics_worker.documents import DEFAULT_WINDOW, INSIGHTS_WINDOW, dora_report, insights_report, lead_time_report
from metrics_worker.state import PRODUCTION
from metrics_worker.timebase import Interval
from metricsync.web.mcp import McpEndpoint, ReadError
from normalizer.alert_labels import UNKNOWN_SERVICE
from schemas.catalog import ServiceCatalog
from schemas.metrics import SeriesPoint
from schemas.ports import MetricsSource

if TYPE_CHECKING:
    from metrics_worker.engine import MetricEngine

INTERVALS: tuple[Interval, ...] = ("day", "week", "month")
MAX_SERIES_BUCKETS = 3700
MAX_SLOWEST = 100
Handler = Callable[[Request], Awaitable[Response]]


class BadQueryError(ValueError):
    def __init__(self, code: str, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.status = status


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
        routes: list[BaseRoute] = [
            Route(path, self._guard(handler), methods=["GET"]) for path, handler in self.handlers.items()
        ]
        routes.append(Route("/mcp", self.mcp, methods=["GET", "POST", "DELETE"]))
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

    async def _query(self, request: Request, default: timedelta = DEFAULT_WINDOW) -> Query:
        params = request.query_params
        service = params.get("service") or None
        team = params.get("team") or None
        environment = (params.get("environment") or PRODUCTION).lower()
        start, end = self._window(request, default)
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

    def _window(self, request: Request, default: timedelta = DEFAULT_WINDOW) -> tuple[datetime, datetime]:
        params = request.query_params
        end = parse_time("to", params["to"]) if params.get("to") else self.clock()
        start = parse_time("from", params["from"]) if params.get("from") else end - default
        if start >= end:
            raise BadQueryError("bad_window", f"'from' ({start.isoformat()}) must be before 'to' ({end.isoformat()})")
        return start, end

    # --- handlers --------------------------------------------------------------------------------

    async def dora(self, request: Request) -> Response:
        q = await self._query(request)
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
        q = await self._query(request)
        requested = request.query_params.get("interval", "day")
        if requested not in INTERVALS:
            raise BadQueryError("bad_interval", f"'interval' must be one of {', '.join(INTERVALS)}, not {requested!r}")
        interval: Interval = requested
        if interval == "day" and (q.end - q.start).days > MAX_SERIES_BUCKETS:
            raise BadQueryError("window_too_large", f"at most {MAX_SERIES_BUCKETS} daily buckets; use week or month")
        engine = await self.source.engine_for(q.services)
        points = engine.series(q.services, q.environment, q.start, q.end, interval)
        retained = engine.retained_from(q.services, q.start)
        scope = {**q.scope_json(), "retained_from": None if retained is None else _iso(retained)}
        include = request.query_params.get("include")
        if include is None:
            return SeriesResponse({**scope, "interval": interval}, points)
        if include != "stages":
            raise BadQueryError("bad_include", f"'include' can only be 'stages', not {include!r}")
        stages = engine.stage_series(q.services, q.environment, q.start, q.end, interval)
        dumped = [
            {**point.model_dump(mode="json", by_alias=True), "stages": breakdown.model_dump(mode="json")}
            for point, breakdown in zip(points, stages, strict=True)
        ]
        return JSONResponse({"scope": {**scope, "interval": interval}, "points": dumped})

    async def lead_time(self, request: Request) -> Response:
        q = await self._query(request)
        limit = _bounded_int(request, "limit", 10, 1, MAX_SLOWEST)
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
        q = await self._query(request, INSIGHTS_WINDOW)
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
        engine = await self.source.engine_for(None)
        rows = []
        for summary in engine.services():
            row = summary.model_dump(mode="json")
            row["team"] = self.catalog.team_of(summary.service)
            rows.append(row)
        return JSONResponse({"services": rows})

    async def deployments(self, request: Request) -> Response:
        q = await self._query(request)
        engine = await self.source.engine_for(q.services)
        views = engine.deployments(q.services, q.environment, q.start, q.end)
        return JSONResponse({"scope": q.scope_json(), "deployments": [v.model_dump(mode="json") for v in views]})

    async def incidents(self, request: Request) -> Response:
        q = await self._query(request)
        engine = await self.source.engine_for(q.services)
        views = engine.incidents(q.services, q.environment, q.start, q.end)
        return JSONResponse({"scope": q.scope_json(), "incidents": [v.model_dump(mode="json") for v in views]})

    async def status(self, request: Request) -> Response:
        body: dict[str, object] = {"as_of": _iso(self.clock())}
        if self.extra_status is not None:
            body.update(await self.extra_status())
        return JSONResponse(body)


def _bounded_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadQueryError(f"bad_{name}", f"'{name}' must be an integer from {low} to {high}, not {text!r}") from None
    if not low <= value <= high:
        raise BadQueryError(f"bad_{name}", f"'{name}' must be an integer from {low} to {high}, not {value}")
    return value


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
