"""The read API as Model Context Protocol tools (official `mcp` SDK): read-only, one per read endpoint.

Each tool takes the read API's scope (service or team, environment, window) and returns the endpoint's JSON
document, unchanged, plus `api_url`: the read API request that gives the same document, so an assistant
can cite it and a reader can open it. The tools fetch through `Fetch`: in a process that serves the read
API, the ReadApi itself (`/mcp`, streamable HTTP); for `metricsync mcp` (stdio), the read API of a running
MetricSync over HTTP with the configured token. Either way the numbers are the read API's.
"""

from __future__ import annotations

import asyncio
import hmac
import http.client
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import orjson
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import ToolAnnotations
from pydantic import SecretStr
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from metricsync.web.queries import DEFAULT_PAGE, MAX_PAGE
from schemas.errors import MetricSyncError

Fetch = Callable[[str, dict[str, str]], Awaitable[dict[str, Any]]]


class ReadError(Exception):
    """The read API refused the request (its error code and detail), e.g. an unknown service."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status, self.code, self.detail = status, code, detail


_READ_ONLY = ToolAnnotations(readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False)
_SCOPE = (
    "Scope: `service` (e.g. acme/payments) or `team` (from the config file), or neither for all services; "
    "`environment` (default production); window [start, end) as ISO 8601 dates or date-times in UTC "
    "(default: the read API's, the last 30 days)."
)
_PAGE = (
    f"`limit` rows (default {DEFAULT_PAGE}, at most {MAX_PAGE}); when `next_cursor` is not null there are "
    "more: call again with `cursor` set to it. "
)
TOOL_NAMES = ("dora_report", "dora_series", "deployments", "incidents", "lead_time", "insights")


def _params(
    service: str | None, team: str | None, environment: str | None, start: str | None, end: str | None
) -> dict[str, str]:
    raw = {"service": service, "team": team, "environment": environment, "from": start, "to": end}
    return {k: v for k, v in raw.items() if v}


def build_server(fetch: Fetch) -> MCPServer:
    server: MCPServer = MCPServer(
        "metricsync",
        instructions=(
            "DORA metrics, lead-time breakdown and explained insights of the services MetricSync watches. "
            "Every tool returns the read API's JSON and `api_url`, the request that shows the same numbers: "
            "cite it. Findings and slow changes carry links to the deployments, incidents and pull requests "
            "behind them."
        ),
    )

    async def call(path: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            document = await fetch(path, params)
        except ReadError as e:
            raise ToolError(f"the read API answered {e.status} {e.code}: {e.detail}") from e
        return {**document, "api_url": f"{path}?{urlencode(params)}" if params else path}

    async def call_page(path: str, params: dict[str, str], limit: int | None, cursor: str | None) -> dict[str, Any]:
        """A list endpoint's page, plus `next_cursor`: the `cursor` argument of the next page (null: last)."""
        paging = {"limit": str(limit)} if limit is not None else {}
        if cursor:
            paging["cursor"] = cursor
        document = await call(path, {**params, **paging})
        following = document.get("next")
        found = parse_qs(urlsplit(following).query).get("cursor") if isinstance(following, str) else None
        return {**document, "next_cursor": found[0] if found else None}

    @server.tool(annotations=_READ_ONLY, description="The four DORA metrics (+ recovery, rework) of a scope. " + _SCOPE)
    async def dora_report(
        service: str | None = None,
        team: str | None = None,
        environment: str | None = None,
        start: str | None = None,
        end: str | None = None,
    ) -> dict[str, Any]:
        return await call("/api/v1/dora", _params(service, team, environment, start, end))

    @server.tool(
        annotations=_READ_ONLY,
        description="The DORA metrics per day, week or month; with include_stages, the lead-time stages per bucket. "
        + _SCOPE,
    )
    async def dora_series(
        service: str | None = None,
        team: str | None = None,
        environment: str | None = None,
        start: str | None = None,
        end: str | None = None,
        interval: str = "day",
        include_stages: bool = False,
    ) -> dict[str, Any]:
        params = {**_params(service, team, environment, start, end), "interval": interval}
        if include_stages:
            params["include"] = "stages"
        return await call("/api/v1/dora/series", params)

    def list_tool(path: str) -> Callable[..., Awaitable[dict[str, Any]]]:
        """A tool answering one page of the list endpoint at `path` (`call_page`)."""

        async def page(
            service: str | None = None,
            team: str | None = None,
            environment: str | None = None,
            start: str | None = None,
            end: str | None = None,
            limit: int | None = None,
            cursor: str | None = None,
        ) -> dict[str, Any]:
            return await call_page(path, _params(service, team, environment, start, end), limit, cursor)

        return page

    for name, path, what in (
        ("deployments", "/api/v1/deployments", "Successful deployments with their changes and failures, oldest first"),
        ("incidents", "/api/v1/incidents", "Incidents with restore times and the deployment each failed"),
    ):
        description = f"{what}, one page at a time: " + _PAGE + _SCOPE
        server.tool(name=name, annotations=_READ_ONLY, description=description)(list_tool(path))

    @server.tool(
        annotations=_READ_ONLY,
        description="Where the lead time goes: coding, pickup, review and deploy (median, p90, counts), and the "
        "slowest changes with their stage times and links. " + _SCOPE,
    )
    async def lead_time(
        service: str | None = None,
        team: str | None = None,
        environment: str | None = None,
        start: str | None = None,
        end: str | None = None,
        limit: int = 10,
    ) -> dict[str, Any]:
        return await call("/api/v1/lead-time", {**_params(service, team, environment, start, end), "limit": str(limit)})

    @server.tool(
        annotations=_READ_ONLY,
        description="What changed against the previous window and what explains it: shifts (with their tests), "
        "drivers, outliers, data quality, each with a sentence, numbers and links. Default window: the last "
        "14 days. " + _SCOPE,
    )
    async def insights(
        service: str | None = None,
        team: str | None = None,
        environment: str | None = None,
        start: str | None = None,
        end: str | None = None,
    ) -> dict[str, Any]:
        return await call("/api/v1/insights", _params(service, team, environment, start, end))

    return server


def http_fetch(base_url: str, token: str | None, timeout: float = 30.0) -> Fetch:
    """A Fetch that asks the read API of a running MetricSync (for `metricsync mcp`, stdio)."""
    target = urlsplit(base_url)
    if target.scheme not in ("http", "https") or not target.hostname:
        raise MetricSyncError(f"--url {base_url!r} is not an http(s) URL")
    prefix = target.path.rstrip("/")

    def get(path: str, params: dict[str, str]) -> dict[str, Any]:
        conn_cls = http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
        conn = conn_cls(target.hostname or "", target.port, timeout=timeout)
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            conn.request("GET", f"{prefix}{path}?{urlencode(params)}", headers=headers)
            response = conn.getresponse()
            body = response.read()
        except OSError as e:
            raise ReadError(503, "unreachable", f"cannot reach MetricSync at {base_url}: {e}") from e
        finally:
            conn.close()
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise ReadError(response.status, "not_json", body[:200].decode(errors="replace")) from None
        if response.status >= 400 or not isinstance(document, dict):
            error = document if isinstance(document, dict) else {}
            raise ReadError(response.status, str(error.get("error", "error")), str(error.get("detail", document)))
        return document

    async def fetch(path: str, params: dict[str, str]) -> dict[str, Any]:
        return await asyncio.to_thread(get, path, params)

    return fetch


class McpEndpoint:
    """`/mcp`: the tools over streamable HTTP (stateless, JSON responses), under the read API's token rule
    (`Authorization: Bearer <METRICSYNC_API_TOKEN>` when a token is set). Its session manager runs in the
    serving app's lifespan: `async with endpoint.running(): ...`."""

    def __init__(self, fetch: Fetch, api_token: SecretStr | None) -> None:
        self.server = build_server(fetch)
        # the read API's own host and token rule apply; the SDK's localhost-only default would refuse
        # every non-local Host header of a served process
        self.server.streamable_http_app(
            stateless_http=True,
            json_response=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        self.manager = self.server.session_manager
        self.app = StreamableHTTPASGIApp(self.manager)
        self.api_token = api_token

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the session manager for the duration of the block. Its task group lives in a task of its
        own, so the block may be entered and left in different tasks (as test clients run lifespans)."""
        started, stop = asyncio.Event(), asyncio.Event()

        async def run() -> None:
            async with self.manager.run():
                started.set()
                await stop.wait()

        task = asyncio.create_task(run(), name="mcp-session-manager")
        ready = asyncio.create_task(started.wait())
        await asyncio.wait([task, ready], return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            ready.cancel()
            task.result()  # it failed to start: raise why
        try:
            yield
        finally:
            stop.set()
            await task

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.api_token is not None and scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            scheme, _, token = headers.get(b"authorization", b"").decode(errors="replace").partition(" ")
            expected = self.api_token.get_secret_value().encode()
            if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected):
                response = JSONResponse(
                    {"error": "unauthorized", "detail": "/mcp needs 'Authorization: Bearer <METRICSYNC_API_TOKEN>'"},
                    status_code=401,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
