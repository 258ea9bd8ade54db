"""`/openapi.json` and the API reference at `/docs`, and the operations of the routes ingest builds.

Ingest (pure core) builds its routes without knowing of OpenAPI; `WEBHOOK_OPERATIONS` documents them by
path and `documented(routes, WEBHOOK_OPERATIONS)` (metricsync.web.contract) attaches them. The read API's
routes carry their operations themselves (`ApiRoute`).

`/docs` is Swagger UI, vendored from npm (static/swagger-ui, `scripts/vendor-swagger-ui`), served from
this process with a Content-Security-Policy that allows nothing but this origin: no CDN, no inline script.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from metricsync.web.contract import Answer, Header, Operation
from metricsync.web.openapi import openapi_document
from schemas.api import Health, WebhookAck

STATIC = Path(__file__).parent / "static"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; base-uri 'self'; form-action 'none'; frame-ancestors 'none'"
)

_REFUSALS = {
    400: Answer("the body is not a JSON object, or a field the delivery id is taken from is missing"),
    401: Answer("the signature or token is missing or wrong, or no secret is configured for this sender"),
    413: Answer("the body is larger than METRICSYNC_MAX_BODY_BYTES"),
    415: Answer("the body is not `application/json` (the detail says which sender setting to change)"),
    503: Answer(
        "the delivery could not be stored now; retry after `Retry-After` seconds",
        headers={"Retry-After": "seconds"},
    ),
}
_STORED = Answer("stored (durable before this answer); `status` says whether the metrics use it", WebhookAck)
_BODY = "the sender's JSON payload, unchanged (it is stored verbatim and verified over its raw bytes)"

WEBHOOK_OPERATIONS: dict[str, Operation] = {
    "/webhooks/github": Operation(
        "GitHub webhook (push, deployment_status, workflow_run, ...)",
        {200: Answer("a `ping` event: verified and answered, not stored", WebhookAck), 202: _STORED, **_REFUSALS},
        description="Set the webhook's Content type to application/json and its secret to METRICSYNC_GITHUB_SECRET.",
        headers=(
            Header("X-GitHub-Event", "the event type", required=True, example="push"),
            Header("X-GitHub-Delivery", "the delivery id (deduplication)", required=True, example="72d3162e"),
        ),
        security=("githubSignature",),
        request_body=_BODY,
        tags=("webhooks",),
    ),
    "/webhooks/jenkins": Operation(
        "Jenkins Notification Plugin (JSON format)",
        {202: _STORED, **_REFUSALS},
        security=("jenkinsToken", "jenkinsBasic", "jenkinsQueryToken"),
        request_body=_BODY,
        tags=("webhooks",),
    ),
    "/webhooks/alertmanager": Operation(
        "Prometheus Alertmanager webhook receiver (version 4)",
        {202: _STORED, **_REFUSALS},
        security=("alertmanagerToken", "alertmanagerBasic"),
        request_body=_BODY,
        tags=("webhooks",),
    ),
    # Sources merged after the contract (issue 14): documented here, their auth in the description only
    # (not yet as securitySchemes; the fuzz test does not yet reach their 2xx: tests/e2e/test_api_fuzz.py)
    **{
        path: Operation(
            summary,
            {202: _STORED, **_REFUSALS},
            description=f"Auth: {auth}. The senders' setup: docs/events.md.",
            request_body=_BODY,
            tags=("webhooks",),
        )
        for path, summary, auth in (
            ("/webhooks/gitlab", "GitLab webhook", "`X-Gitlab-Token` = METRICSYNC_GITLAB_TOKEN"),
            ("/webhooks/pagerduty", "PagerDuty webhook (v3)", "the `X-PagerDuty-Signature` HMAC of the body"),
            ("/webhooks/opsgenie", "Opsgenie outgoing webhook", "a token header or basic auth"),
            ("/webhooks/cdevents", "CDEvents over CloudEvents HTTP", "bearer or basic token, or `?token=`"),
            ("/api/v1/deployments", "Push a deployment (MetricSync's or DevLake's shape)", "bearer push token"),
            ("/api/v1/incidents", "Push an incident (MetricSync's or DevLake's shape)", "bearer push token"),
        )
    },
    "/healthz": Operation(
        "Liveness: 200 while the process serves, with how each sender is verified",
        {200: Answer("serving", Health)},
        tags=("operations",),
    ),
    "/readyz": Operation(
        "Readiness: 200 when webhooks can be stored, else 503 with the reason",
        {200: Answer("ready", Health), 503: Answer("not ready; `reason` says why", Health)},
        tags=("operations",),
    ),
}


def docs_routes(routes: Callable[[], Sequence[BaseRoute]]) -> list[BaseRoute]:
    """`GET /openapi.json` (the document of `routes()`, built on first use) and `GET /docs`."""
    cache: dict[str, bytes] = {}

    def document() -> bytes:
        if "json" not in cache:
            cache["json"] = document_json(routes()).encode()
        return cache["json"]

    async def openapi_json(request: Request) -> Response:
        return Response(document(), media_type="application/json")

    page = (STATIC / "docs.html").read_bytes()

    async def docs(request: Request) -> Response:
        return Response(page, media_type="text/html; charset=utf-8", headers={"Content-Security-Policy": CSP})

    return [
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        Mount("/docs/static", app=StaticFiles(directory=STATIC), name="docs_static"),
    ]


def document_json(routes: Sequence[BaseRoute]) -> str:
    """The document as served and as `docs/openapi.json` holds it (2-space indent, the code's key order)."""
    return orjson.dumps(openapi_document(routes), option=orjson.OPT_INDENT_2).decode() + "\n"
