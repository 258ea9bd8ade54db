"""Request latency for every HTTP route: an ASGI wrapper around the whole app (so the webhook fast
path, which skips Starlette's middleware, is timed too). Routes are labelled by their template;
paths the app does not serve read "other" (no path ever becomes a label value)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from metricsync.telemetry.definitions import Metrics


def route_paths(routes: Iterable[BaseRoute]) -> set[str]:
    return {route.path for route in routes if isinstance(route, Route)}


class RequestTimer:
    def __init__(self, app: ASGIApp, metrics: Metrics, paths: Iterable[str]) -> None:
        self.app = app
        self._histogram = metrics.request_duration
        self._paths = frozenset(paths)
        self._children: dict[tuple[str, int], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def timed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            path = scope["path"]
            key = (path if path in self._paths else "other", status // 100)
            child = self._children.get(key)
            if child is None:
                child = self._children[key] = self._histogram.labels(key[0], f"{key[1]}xx")
            child.observe(time.perf_counter() - started)

    def __getattr__(self, name: str) -> Any:  # lifespan, router, state: the wrapped app's
        return getattr(self.app, name)
