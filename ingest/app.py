"""The webhook endpoints, built from parts: verifier, bounded body, identity, sink.

Each POST runs the same steps, cheapest refusal first: token/signature headers (401), declared
length (413), content type (415), streamed body (413), HMAC over the raw bytes (401), one orjson
parse (400), identity (400). Only then is the delivery handed to the sink, and 202 is answered
once `sink.submit` returned (the delivery is durable); a sink that cannot store it now answers
503, one that never will for its size (Kafka's record limit below the body limit) 413. Nothing
here reads the environment or a global: the runtime passes config, sink and clock in.

The endpoints are plain ASGI callables (no Starlette `Request`/`Response` objects on the way to a
202), and `IngestStarlette` hands `POST /webhooks/<source>` to them before Starlette's middleware
and router: that path is most of what an ingest process does, and the framework layers cost as much
as the verification itself. Every other request (probes, read API, 404/405) goes through Starlette
as before, in the same JSON shape.
"""

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from ingest.auth import alertmanager_verifier, github_verifier, jenkins_verifier
from ingest.body import check_content_length, check_content_type, read_body
from ingest.config import IngestConfig
from ingest.errors import (
    IngestError,
    InternalError,
    PayloadTooLarge,
    ServiceUnavailable,
    http_exception_handler,
    problem_response,
)
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
from ingest.sender import HeaderMap, Sender
from schemas.ports import DeliverySink, DeliveryTooLarge, SinkUnavailable
from schemas.raw import IngestStatus, RawDelivery
from schemas.sources import Source

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]

_ACCEPTED_HEADERS = (b"content-type", b"application/json")

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


def _identify_github(headers: HeaderMap, payload: dict[str, Any], body: bytes) -> Identity | Response:
    event = github_event(headers)
    if event == GITHUB_PING:  # sent when the hook is created: verified, answered, not stored
        return json_response(200, {"status": "pong", "delivery_id": headers.get("x-github-delivery")})
    return github_identity(headers, event, payload)


def _identify_jenkins(headers: HeaderMap, payload: dict[str, Any], body: bytes) -> Identity:
    return jenkins_identity(headers, payload, body)


def _identify_alertmanager(headers: HeaderMap, payload: dict[str, Any], body: bytes) -> Identity:
    return alertmanager_identity(payload, body)


def github_sender(config: IngestConfig) -> Sender:
    return Sender(
        Source.GITHUB, "/webhooks/github", github_verifier(config), _identify_github, _GITHUB_HINTS, "x-github-delivery"
    )


def jenkins_sender(config: IngestConfig) -> Sender:
    return Sender(Source.JENKINS, "/webhooks/jenkins", jenkins_verifier(config), _identify_jenkins, _JENKINS_HINTS)


def alertmanager_sender(config: IngestConfig) -> Sender:
    return Sender(Source.ALERTMANAGER, "/webhooks/alertmanager", alertmanager_verifier(config), _identify_alertmanager)


def builtin_senders(config: IngestConfig) -> list[Sender]:
    """GitHub, Jenkins and Alertmanager from an `IngestConfig` (tests, benchmarks, and callers that
    do not pass the runtime's source registry)."""
    return [github_sender(config), jenkins_sender(config), alertmanager_sender(config)]


class _WebhookEndpoints:
    def __init__(self, senders: Sequence[Sender], max_body_bytes: int, sink: DeliverySink, clock: Clock) -> None:
        self._sink = sink
        self._clock = clock
        self._limit = max_body_bytes
        self.senders = list(senders)
        paths = [sender.path for sender in self.senders]
        if len(set(paths)) != len(paths):
            raise ValueError(f"two senders share a path: {sorted(paths)}")

    @property
    def verification(self) -> dict[str, str]:
        return {sender.source.value: sender.verifier.mode for sender in self.senders}

    def route(self, sender: Sender) -> Route:
        return Route(sender.path, WebhookEndpoint(self, sender), methods=["POST"], name=sender.route_name)

    async def handle(self, scope: Scope, receive: Receive, send: Send, sender: Sender) -> None:
        received_at = self._clock()
        raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        headers = header_map(raw_headers)
        try:
            sender.verifier.check_headers(headers, scope.get("query_string", b""))
            check_content_length(headers.get("content-length"), self._limit)
            check_content_type(headers.get("content-type"), sender.content_type_hints)
            body = await read_body(receive, self._limit)
            sender.verifier.check_body(headers, body)
            payload = sender.parse(headers, body)
            identity = sender.identify(headers, payload, body)
            if isinstance(identity, Response):
                await identity(scope, receive, send)
                return
            status = await self._store(raw_headers, sender.source, identity, body, payload, received_at)
        except IngestError as e:
            await self._refuse(headers, sender, e)(scope, receive, send)
            return
        except ClientDisconnect:
            logger.info("webhook abandoned: client disconnected source=%s", sender.source.value)
            await Response(status_code=400)(scope, receive, send)
            return
        except Exception:
            # Outside Starlette's ServerErrorMiddleware: answer 500 here (in the usual JSON shape).
            logger.exception("webhook failed source=%s", sender.source.value)
            await problem_response(InternalError())(scope, receive, send)
            return
        # The 202 as two raw ASGI messages: no Response object on the hot path.
        answer = orjson.dumps({"status": status.value, "delivery_id": identity.delivery_id})
        await send(
            {
                "type": "http.response.start",
                "status": 202,
                "headers": [(b"content-length", str(len(answer)).encode("ascii")), _ACCEPTED_HEADERS],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    async def _store(
        self,
        raw_headers: Iterable[tuple[bytes, bytes]],
        source: Source,
        identity: Identity,
        body: bytes,
        payload: dict[str, Any] | list[Any],
        received_at: datetime,
    ) -> IngestStatus:
        # Every field was checked above: construct without validating again (it is per request).
        delivery = RawDelivery.model_construct(
            delivery_id=identity.delivery_id,
            source=source,
            event_type=identity.event_type,
            key=identity.key,
            received_at=received_at,
            headers=stored_headers(raw_headers),
            body=body,
        )
        try:
            new = await self._sink.submit(delivery, payload if isinstance(payload, dict) else None)
        except SinkUnavailable as e:
            raise ServiceUnavailable(
                f"The delivery could not be stored ({e.reason}); retry after {max(1, e.retry_after_seconds)} s.",
                e.retry_after_seconds,
            ) from e
        except DeliveryTooLarge as e:
            raise PayloadTooLarge("delivery_too_large", e.reason) from e
        if not new:
            status = IngestStatus.DUPLICATE
        elif identity.mapped:
            status = IngestStatus.ACCEPTED
        else:
            status = IngestStatus.IGNORED
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "webhook stored source=%s delivery_id=%s event_type=%s key=%s status=%s",
                source.value,
                identity.delivery_id,
                identity.event_type,
                identity.key,
                status.value,
            )
        return status

    def _refuse(self, headers: HeaderMap, sender: Sender, error: IngestError) -> Response:
        delivery_id = headers.get(sender.delivery_header, "-") if sender.delivery_header else "-"
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


class WebhookEndpoint:
    """One source's `POST /webhooks/<source>` as a plain ASGI app (a Starlette route's endpoint, and
    what `IngestStarlette` calls directly)."""

    def __init__(self, endpoints: _WebhookEndpoints, sender: Sender) -> None:
        self._endpoints = endpoints
        self._sender = sender

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._endpoints.handle(scope, receive, send, self._sender)


def header_map(raw_headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """ASGI headers as a dict for lookups: a repeated header keeps its first value (as Starlette's
    `Headers.get`); names as sent (ASGI servers lower-case them)."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in raw_headers:
        name = raw_name.decode("latin-1")
        if name not in headers:
            headers[name] = raw_value.decode("latin-1")
    return headers


class IngestStarlette(Starlette):
    """Starlette, except that `POST` to a webhook route's exact path goes straight to its
    `WebhookEndpoint`, past the middleware stack and the router (which still serve every other
    request, and webhooks under a `root_path`). Same answers either way: the endpoint makes its own
    refusals and 500s in the JSON shape of `http_exception_handler`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._webhooks: dict[str, WebhookEndpoint] = {
            route.path: route.endpoint
            for route in self.router.routes
            if isinstance(route, Route) and isinstance(route.endpoint, WebhookEndpoint)
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            endpoint = self._webhooks.get(scope["path"])
            if endpoint is not None:
                scope["app"] = self
                await endpoint(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_ingest_routes(
    config: IngestConfig, sink: DeliverySink, clock: Clock, senders: Sequence[Sender] | None = None
) -> list[BaseRoute]:
    """One `POST` route per sender (default: GitHub, Jenkins, Alertmanager from `config`; the runtime
    passes every registered source's), `GET /healthz`, `GET /readyz`.

    The runtime mounts these next to the read API in one `IngestStarlette` app. How each source is
    verified is documented on `IngestConfig`; a source with a secret always verifies it.
    """
    endpoints = _WebhookEndpoints(
        builtin_senders(config) if senders is None else senders, config.max_body_bytes, sink, clock
    )
    return [
        *(endpoints.route(sender) for sender in endpoints.senders),
        *create_health_routes(sink, endpoints.verification),
    ]


def create_ingest_app(
    config: IngestConfig, sink: DeliverySink, clock: Clock, senders: Sequence[Sender] | None = None
) -> IngestStarlette:
    """The ingest routes alone, as an app (tests, benchmarks); 404/405 answered in the same JSON shape."""
    return IngestStarlette(
        routes=create_ingest_routes(config, sink, clock, senders),
        exception_handlers={HTTPException: http_exception_handler},
    )
