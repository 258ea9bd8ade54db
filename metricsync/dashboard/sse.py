"""`GET /api/v1/stream`: server-sent events, one per service whose metrics changed.

Scope as the read API: `service` or `team` (404 when unknown), none for all services; `environment`
is validated and echoed, but a change is the service's (its snapshot covers production): pages of
other environments reload their view on it too. Events:

    retry: 3000                    (the browser's reconnect delay)
    event: hello   data: {"scope": ..., "settle_ms": N}   once per connection; settle_ms > 0 (distributed
                                   mode): the read API shows a change once the worker checkpointed
                                   it, so a page reads again that long after the last change
    event: change  id: <epoch>.<seq>  data: {"service": "payments", "snapshot": {...}}
    event: reset   id: ...         the changes missed cannot be told (Last-Event-ID of another
                                   process or too old, or the client fell behind): reload everything
    : keep-alive                   a comment every 15 s so proxies keep the connection

Reconnect with `Last-Event-ID: <id>` to get the changes missed since (from a history of the last
2048 changes of this process).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute

from metricsync.dashboard.headers import SECURITY_HEADERS
from metricsync.dashboard.hub import Change, Listener, StreamHub
from metricsync.web.contract import Answer, ApiRoute, Operation
from metricsync.web.queries import StreamParams
from metricsync.web.read_api import API_AUTH, SCOPE_ERRORS, ReadApi

log = logging.getLogger(__name__)

RETRY_MS = 3000
KEEP_ALIVE_SECONDS = 15.0


def _event(kind: str, event_id: str, data: bytes) -> bytes:
    return b"event: " + kind.encode() + b"\nid: " + event_id.encode() + b"\ndata: " + data + b"\n\n"


class StreamRoute:
    def __init__(
        self, api: ReadApi, hub: StreamHub, settle_ms: int = 0, keep_alive_seconds: float = KEEP_ALIVE_SECONDS
    ) -> None:
        self.api = api
        self.hub = hub
        self.settle_ms = settle_ms
        self.keep_alive_seconds = keep_alive_seconds

    def routes(self) -> list[BaseRoute]:
        return [ApiRoute("/api/v1/stream", self.api._guard(self.stream), STREAM)]

    async def stream(self, request: Request) -> Response:
        q, params = await self.api.scope(request, StreamParams)
        listener = self.hub.listen(q.services)  # before the replay: nothing falls between the two
        last_id = request.headers.get("last-event-id") or getattr(params, "last_event_id", None)
        replay = self.hub.since(last_id, q.services) if last_id else []
        scope = {k: v for k, v in q.scope_json().items() if k not in ("from", "to")}
        hello = orjson.dumps({"scope": scope, "settle_ms": self.settle_ms})
        log.info(
            "stream opened service=%s team=%s resumed=%s listeners=%d",
            q.service,
            q.team,
            last_id is not None,
            self.hub.listeners,
        )
        return StreamingResponse(
            self._body(listener, replay, hello),
            media_type="text/event-stream",
            headers={**SECURITY_HEADERS, "cache-control": "no-cache, no-transform", "x-accel-buffering": "no"},
        )

    async def _body(self, listener: Listener, replay: list[Change] | None, hello: bytes) -> AsyncIterator[bytes]:
        hub = self.hub
        try:
            yield f"retry: {RETRY_MS}\n\n".encode()
            yield _event("hello", hub.current_id(), hello)
            last_seq = 0
            if replay is None:
                listener.drain()
                yield _event("reset", hub.current_id(), b"{}")
            else:
                for missed in replay:
                    last_seq = missed.seq
                    yield _event("change", hub.event_id(missed.seq), missed.data)
            while not listener.closed:
                change = await listener.next(self.keep_alive_seconds)
                if listener.closed:
                    return
                if listener.overflowed:
                    listener.drain()
                    yield _event("reset", hub.current_id(), b"{}")
                    continue
                if change is None:
                    yield b": keep-alive\n\n"
                elif change.seq > last_seq:
                    last_seq = change.seq
                    yield _event("change", hub.event_id(change.seq), change.data)
        finally:
            hub.leave(listener)


STREAM = Operation(
    "Live: a server-sent event per change of the scope's metrics (the dashboard's live updates)",
    {
        200: Answer(
            "an event stream: `hello`, then one event per change; resumable with Last-Event-ID",
            None,
            media="text/event-stream",
        ),
        **SCOPE_ERRORS,
    },
    query=StreamParams,
    security=API_AUTH,
    tags=("metrics",),
)
