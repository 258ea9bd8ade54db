"""The consumer services' small HTTP listener (METRICSYNC_METRICS_PORT): `GET /metrics` and
`GET /healthz`, on the service's own event loop, nothing else. HTTP/1.0-style: one request per
connection, answered and closed (what Prometheus and probes need)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Protocol

from prometheus_client import CONTENT_TYPE_LATEST

from metricsync.telemetry.exposition import Exposition
from schemas.errors import ConfigError

if TYPE_CHECKING:
    from metricsync.settings import Settings
    from metricsync.telemetry.process import Telemetry

log = logging.getLogger(__name__)

MAX_REQUEST_HEAD = 8192
READ_TIMEOUT_SECONDS = 10.0


class MetricsListener:
    def __init__(
        self, exposition: Exposition, host: str, port: int, healthy: Callable[[], str | None] | None = None
    ) -> None:
        self.exposition = exposition
        self.host = host
        self.port = port
        self.healthy = healthy  # None: healthy; else the reason it is not
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._handle, self.host, self.port, limit=MAX_REQUEST_HEAD)
        except OSError as e:
            raise ConfigError(
                f"METRICSYNC_METRICS_PORT={self.port}: cannot listen on {self.host}:{self.port} ({e.strerror}); "
                "give each process on this host its own port, or 0 for no /metrics listener"
            ) from e
        sockets = self._server.sockets
        if sockets:
            self.port = sockets[0].getsockname()[1]
        log.info("metrics listener on http://%s:%d/metrics", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_SECONDS)
            method, _, rest = head.split(b"\r\n", 1)[0].decode("latin-1").partition(" ")
            path = rest.split(" ", 1)[0].split("?", 1)[0]
            if method not in ("GET", "HEAD"):
                status, ctype, body = 405, "text/plain", b"method not allowed\n"
            elif path == "/metrics":
                status, ctype, body = 200, CONTENT_TYPE_LATEST, await self.exposition.render()
            elif path == "/healthz":
                problem = self.healthy() if self.healthy is not None else None
                status = 200 if problem is None else 503
                ctype, body = "application/json", (b'{"status":"ok"}' if problem is None else b'{"status":"unhealthy"}')
            else:
                status, ctype, body = 404, "text/plain", b"not found: /metrics or /healthz\n"
            reason = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}[status]
            writer.write(
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode("latin-1")
                + (body if method != "HEAD" else b"")
            )
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        except Exception:
            log.exception("metrics listener request failed")
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


class Polling(Protocol):
    last_poll: float  # time.monotonic() of the consumer's last poll


STALE_POLL_SECONDS = 60.0


@contextlib.asynccontextmanager
async def consumer_metrics(telemetry: Telemetry, settings: Settings, service: Polling) -> AsyncIterator[None]:
    """The consumer service's listener on METRICSYNC_HOST:METRICSYNC_METRICS_PORT for the duration
    (none with port 0); /healthz fails once the service has not polled for a minute."""
    if settings.metrics_port == 0:
        yield
        return

    def healthy() -> str | None:
        age = time.monotonic() - service.last_poll
        return None if age < STALE_POLL_SECONDS else f"no poll for {age:.0f}s"

    listener = MetricsListener(telemetry.exposition, settings.host, settings.metrics_port, healthy)
    await listener.start()
    try:
        yield
    finally:
        await listener.stop()
