"""Why ingest refuses a request, as exceptions, and their JSON problem responses.

Every refusal answers `{"error": "<short code>", "detail": "<sentence naming the problem and the fix>"}`.
Details never contain secrets, tokens or the query string.
"""

from collections.abc import Mapping
from typing import ClassVar

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ingest.responses import json_response


class IngestError(Exception):
    """Root of ingest's refusals: an HTTP status, a short machine code and a human sentence."""

    status_code: ClassVar[int] = 400

    def __init__(self, code: str, detail: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.headers = dict(headers) if headers else None


class BadRequest(IngestError):
    """Malformed body or missing headers/fields: the sender must change the request (400)."""

    status_code = 400


class Unauthorized(IngestError):
    """Signature or token missing or wrong, or no secret configured for the source (401)."""

    status_code = 401


class PayloadTooLarge(IngestError):
    status_code = 413


class UnsupportedMediaType(IngestError):
    status_code = 415


class ServiceUnavailable(IngestError):
    """The delivery could not be stored now; the sender should retry after `Retry-After` seconds (503)."""

    status_code = 503

    def __init__(self, detail: str, retry_after_seconds: int) -> None:
        super().__init__("unavailable", detail, {"Retry-After": str(max(1, retry_after_seconds))})


class InternalError(IngestError):
    """A bug or an unexpected failure while handling a webhook (500): the sender should retry."""

    status_code = 500

    def __init__(self) -> None:
        super().__init__("internal_error", "MetricSync failed to handle this webhook; it was not stored. Retry later.")


def problem_response(error: IngestError) -> Response:
    return json_response(error.status_code, {"error": error.code, "detail": error.detail}, error.headers)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (404, 405) in the same JSON shape; names the path, never the query."""
    if not isinstance(exc, HTTPException):  # pragma: no cover - registered for HTTPException only
        raise exc
    path = request.url.path
    headers = exc.headers
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        # Starlette's Allow names the methods of the first route of the path only; a path served by two
        # routes (GET /api/v1/deployments reads, POST pushes) allows the methods of both
        methods = {
            method
            for route in getattr(request.app, "routes", [])
            if isinstance(route, Route) and route.path == path and route.methods
            for method in route.methods
        }
        if methods:
            allowed = ", ".join(sorted(methods))
            headers = {**(exc.headers or {}), "Allow": allowed}
        detail = f"{request.method} is not allowed on {path}; use {allowed or 'another method'}."
    elif exc.status_code == 404:
        detail = (
            f"There is no endpoint at {path}; webhooks go to /webhooks/<source> (GET /healthz lists the "
            "sources) and pushed deployments and incidents to /api/v1/deployments and /api/v1/incidents."
        )
    else:
        detail = str(exc.detail)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return json_response(exc.status_code, {"error": code, "detail": detail}, headers)
