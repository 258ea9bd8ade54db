"""The webhook endpoints, built from parts: verifier, bounded body, identity, sink.

Each POST runs the same steps, cheapest refusal first: token/signature headers (401), declared
length (413), content type (415), streamed body (413), HMAC over the raw bytes (401), one orjson
parse (400), identity (400). Only then is the delivery handed to the sink, and 202 is answered
once `sink.submit` returned (the delivery is durable). Nothing here reads the environment or a
global: the runtime passes config, sink and clock in.
"""

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ingest.auth import Verifier, alertmanager_verifier, github_verifier, jenkins_verifier
from ingest.body import check_content_length, check_content_type, parse_object, read_body
from ingest.config import IngestConfig
from ingest.errors import IngestError, ServiceUnavailable, http_exception_handler, problem_response
from ingest.headers import stored_headers
from ingest.health import create_health_routes
from ingest.identity import (
    GITHUB_PING,
    MAX_HEADER_VALUE,
    Identity,
    alertmanager_identity,
    github_event,
    github_identity,
    jenkins_identity,
)
from ingest.responses import json_response
from schemas.ports import DeliverySink, SinkUnavailable
from schemas.raw import IngestStatus, RawDelivery
from schemas.sources import Source

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
# Identity of a parsed, verified request; or a response that ends it without storing (GitHub ping).
Identify = Callable[[Headers, dict[str, Any], bytes], Identity | Response]

_GITHUB_HINTS = {
    "application/x-www-form-urlencoded": (
        "GitHub sent this webhook form-encoded; set the webhook's Content type to application/json in GitHub."
    ),
}
_JENKINS_XML = (
    "The Jenkins notification is XML; set the Notification Plugin endpoint's Format to JSON "
    "(Content-Type: application/json)."
)
_JENKINS_HINTS = {"application/xml": _JENKINS_XML, "text/xml": _JENKINS_XML}


def _identify_github(headers: Headers, payload: dict[str, Any], body: bytes) -> Identity | Response:
    event = github_event(headers)
    if event == GITHUB_PING:  # sent when the hook is created: verified, answered, not stored
        return json_response(200, {"status": "pong", "delivery_id": headers.get("x-github-delivery")})
    return github_identity(headers, event, payload)


def _identify_jenkins(headers: Headers, payload: dict[str, Any], body: bytes) -> Identity:
    return jenkins_identity(headers, payload, body)


def _identify_alertmanager(headers: Headers, payload: dict[str, Any], body: bytes) -> Identity:
    return alertmanager_identity(payload, body)


@dataclass(frozen=True, slots=True)
class _Sender:
    source: Source
    verifier: Verifier
    content_type_hints: Mapping[str, str]
    identify: Identify
    delivery_header: str | None = None  # a sender-given delivery id worth logging on refusals


class _WebhookEndpoints:
    def __init__(self, config: IngestConfig, sink: DeliverySink, clock: Clock) -> None:
        self._sink = sink
        self._clock = clock
        self._limit = config.max_body_bytes
        self.github = _Sender(
            Source.GITHUB, github_verifier(config), _GITHUB_HINTS, _identify_github, "x-github-delivery"
        )
        self.jenkins = _Sender(Source.JENKINS, jenkins_verifier(config), _JENKINS_HINTS, _identify_jenkins)
        self.alertmanager = _Sender(Source.ALERTMANAGER, alertmanager_verifier(config), {}, _identify_alertmanager)

    @property
    def verification(self) -> dict[str, str]:
        return {sender.source.value: sender.verifier.mode for sender in (self.github, self.jenkins, self.alertmanager)}

    def route(self, path: str, sender: _Sender) -> Route:
        async def endpoint(request: Request) -> Response:
            return await self._handle(request, sender)

        return Route(path, endpoint, methods=["POST"], name=f"webhook_{sender.source.value}")

    async def _handle(self, request: Request, sender: _Sender) -> Response:
        received_at = self._clock()
        headers = request.headers
        try:
            sender.verifier.check_headers(request)
            check_content_length(headers.get("content-length"), self._limit)
            check_content_type(headers.get("content-type"), sender.content_type_hints)
            body = await read_body(request, self._limit)
            sender.verifier.check_body(headers, body)
            payload = parse_object(body)
            identity = sender.identify(headers, payload, body)
            if isinstance(identity, Response):
                return identity
            return await self._store(request, sender.source, identity, body, received_at)
        except IngestError as e:
            return self._refuse(request, sender, e)
        except ClientDisconnect:
            logger.info("webhook abandoned: client disconnected source=%s", sender.source.value)
            return Response(status_code=400)

    async def _store(
        self, request: Request, source: Source, identity: Identity, body: bytes, received_at: datetime
    ) -> Response:
        delivery = RawDelivery(
            delivery_id=identity.delivery_id,
            source=source,
            event_type=identity.event_type,
            key=identity.key,
            received_at=received_at,
            headers=stored_headers(request.scope["headers"]),
            body=body,
        )
        try:
            new = await self._sink.submit(delivery)
        except SinkUnavailable as e:
            raise ServiceUnavailable(
                f"The delivery could not be stored ({e.reason}); retry after {max(1, e.retry_after_seconds)} s.",
                e.retry_after_seconds,
            ) from e
        if not new:
            status = IngestStatus.DUPLICATE
        elif identity.mapped:
            status = IngestStatus.ACCEPTED
        else:
            status = IngestStatus.IGNORED
        logger.debug(
            "webhook stored source=%s delivery_id=%s event_type=%s key=%s status=%s",
            source.value,
            identity.delivery_id,
            identity.event_type,
            identity.key,
            status.value,
        )
        return json_response(202, {"status": status.value, "delivery_id": identity.delivery_id})

    def _refuse(self, request: Request, sender: _Sender, error: IngestError) -> Response:
        delivery_id = request.headers.get(sender.delivery_header, "-") if sender.delivery_header else "-"
        delivery_id = delivery_id[:MAX_HEADER_VALUE]
        level = logging.WARNING if error.status_code >= 500 else logging.INFO
        # Never the URL: a Jenkins token may travel in its query string.
        logger.log(
            level,
            "webhook refused source=%s delivery_id=%s status=%d error=%s detail=%s",
            sender.source.value,
            delivery_id,
            error.status_code,
            error.code,
            error.detail,
        )
        return problem_response(error)


def create_ingest_routes(config: IngestConfig, sink: DeliverySink, clock: Clock) -> list[BaseRoute]:
    """`POST /webhooks/github|jenkins|alertmanager`, `GET /healthz`, `GET /readyz`.

    The runtime mounts these next to the read API in one Starlette app. How each source is
    verified is documented on `IngestConfig`; a source with a secret always verifies it.
    """
    endpoints = _WebhookEndpoints(config, sink, clock)
    return [
        endpoints.route("/webhooks/github", endpoints.github),
        endpoints.route("/webhooks/jenkins", endpoints.jenkins),
        endpoints.route("/webhooks/alertmanager", endpoints.alertmanager),
        *create_health_routes(sink, endpoints.verification),
    ]


def create_ingest_app(config: IngestConfig, sink: DeliverySink, clock: Clock) -> Starlette:
    """The ingest routes alone, as an app (tests, benchmarks); 404/405 answered in the same JSON shape."""
    return Starlette(
        routes=create_ingest_routes(config, sink, clock),
        exception_handlers={HTTPException: http_exception_handler},
    )
