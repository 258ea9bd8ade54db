"""How every MetricSync HTTP service is served: uvicorn (uvloop + httptools), one process or N.

`serve_app(settings, make_app, workers)`:

* workers == 1: uvicorn in this process, bound to METRICSYNC_HOST:METRICSYNC_PORT as before.
* workers > 1: this process binds `workers` listening sockets to the same address with
  `SO_REUSEPORT` (the kernel spreads new connections over them by a hash of the connection, so
  keep-alive clients are balanced too, unlike N processes accepting from one socket) and forks one
  uvicorn process per socket, each building its own app. It supervises them: a process that dies
  is started again on the same socket (connections queue on it meanwhile), SIGTERM/SIGINT are
  passed on and the processes get the usual graceful shutdown; a process that fails at start-up
  (uvicorn's exit code 3) stops them all with that code. If the supervisor itself is killed, the
  workers get SIGTERM (Linux's parent-death signal) rather than serving on as orphans.

Either way the HTTP protocol is `CoalescingHttpToolsProtocol`: what uvicorn writes to a
connection during one event-loop iteration leaves in one `write` system call. uvicorn writes a
response's head and its body separately; on loopback each write costs the whole TCP path and a
wake-up of the client, and that was a fifth of an ingest process's CPU under load.

The benchmarks serve their bare-Starlette ceiling app through this same function and worker count.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import gc
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from multiprocessing.connection import wait
from typing import TYPE_CHECKING, Any

from metricsync.settings import Settings

if TYPE_CHECKING:
    from multiprocessing.context import ForkProcess

log = logging.getLogger(__name__)

STARTUP_FAILURE = 3  # uvicorn's exit code when the app's lifespan startup fails
GRACEFUL_SECONDS = 10
RESTART_BACKOFF_MAX = 30.0

AppFactory = Callable[[], Any]


def freeze_startup_objects() -> None:
    """Move everything alive at start-up (modules, classes, the app) out of the cyclic GC's reach:
    full collections then walk only what requests create, not the whole heap. Under load this took
    ingest's p99 at half its peak from ~40 ms to ~16-28 ms (docs/benchmarks.md)."""
    gc.collect()
    gc.freeze()


# --- one write per connection per loop iteration ----------------------------------------------------


class _CoalescingTransport:
    """Wraps a transport: `write`s made during one loop iteration are sent as one, at its end.
    Everything else goes to the wrapped transport; `close` sends what is pending first."""

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(bytes(data) if not isinstance(data, bytes) else data)

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        if not pending or self._transport.is_closing():
            return
        if len(pending) == 1:
            self._transport.write(pending[0])
        else:
            self._transport.writelines(pending)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(len(chunk) for chunk in self._pending)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


@functools.cache
def _coalescing_protocol() -> type[asyncio.Protocol] | str:
    """httptools' protocol with `_CoalescingTransport`; uvicorn's "auto" when httptools is missing."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # pragma: no cover - httptools is a dependency
        return "auto"

    class CoalescingHttpToolsProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            wrapped: Any = _CoalescingTransport(transport, self.loop)
            super().connection_made(wrapped)

    return CoalescingHttpToolsProtocol


# --- serving --------------------------------------------------------------------------------------


def _config(settings: Settings, app: Any) -> Any:
    import uvicorn

    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=_coalescing_protocol(),
        log_level=settings.log_level.lower(),
        log_config=None,  # uvicorn's records go through the handler of metricsync.logs (text or JSON)
        access_log=False,  # ingest writes its own access line per webhook (ingest.app)
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
    )


def _run_uvicorn(settings: Settings, app: Any, sock: socket.socket | None = None) -> int:
    import uvicorn

    server = uvicorn.Server(_config(settings, app))
    freeze_startup_objects()
    server.run(sockets=[sock] if sock is not None else None)
    return 0 if server.started else STARTUP_FAILURE


def serve_app(
    settings: Settings, make_app: AppFactory, workers: int = 1, on_exit: Callable[[int], None] | None = None
) -> int:
    """Serve the app `make_app()` builds (in each process) until SIGTERM/SIGINT; the exit code.
    `on_exit(pid)`: told when a worker process has exited (its metrics are then marked dead)."""
    if workers <= 1:
        return _run_uvicorn(settings, make_app())
    return _Supervisor(settings, make_app, workers, on_exit).run()


def reuseport_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` listening TCP sockets bound to one address with SO_REUSEPORT (port 0: one free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            port = sock.getsockname()[1]
            sock.listen(2048)
            sock.set_inheritable(True)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """Linux: get SIGTERM (a graceful stop) when the supervisor dies, even by SIGKILL, so that no
    orphan keeps serving on the shared port. Elsewhere a no-op."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the request took effect
        os._exit(0)


def _worker_main(
    index: int, sockets: list[socket.socket], settings: Settings, make_app: AppFactory, parent: int
) -> None:
    """One forked server process: its own socket, its own app (its own Kafka producer and spool)."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)  # uvicorn installs its own; not the supervisor's
    _die_with_parent(parent)
    own = sockets[index]
    for i, sock in enumerate(sockets):
        if i != index:
            sock.close()
    log.info("worker %d serving pid=%d", index, os.getpid())
    code = _run_uvicorn(settings, make_app(), own)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # not the supervisor's atexit handlers, not a re-raised signal


class _Supervisor:
    def __init__(
        self, settings: Settings, make_app: AppFactory, workers: int, on_exit: Callable[[int], None] | None = None
    ) -> None:
        self.settings = settings
        self.make_app = make_app
        self.workers = workers
        self.on_exit = on_exit
        self.context = multiprocessing.get_context("fork")
        self.processes: dict[int, ForkProcess] = {}
        self.started_at: dict[int, float] = {}
        self.restarts: dict[int, int] = {}
        self.stopping = False
        self.exit_code = 0

    def run(self) -> int:
        sockets = reuseport_sockets(self.settings.host, self.settings.port, self.workers)
        host, port = sockets[0].getsockname()[:2]
        log.info("serving on http://%s:%d with %d worker processes (SO_REUSEPORT)", host, port, self.workers)
        freeze_startup_objects()  # before forking: the start-up heap stays shared, untouched by GC
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            for index in range(self.workers):
                self._start(index, sockets)
            self._watch(sockets)
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            for sock in sockets:
                sock.close()
        return self.exit_code

    def _on_signal(self, signum: int, frame: object) -> None:
        self.stopping = True

    def _start(self, index: int, sockets: list[socket.socket]) -> None:
        process = self.context.Process(
            target=_worker_main,
            args=(index, sockets, self.settings, self.make_app, os.getpid()),
            name=f"metricsync-worker-{index}",
        )
        process.start()
        self.processes[index] = process
        self.started_at[index] = time.monotonic()

    def _watch(self, sockets: list[socket.socket]) -> None:
        due: dict[int, float] = {}  # index -> when to start it again
        while not self.stopping:
            sentinels = [p.sentinel for p in self.processes.values() if p.is_alive()]
            wait(sentinels, timeout=0.5)
            now = time.monotonic()
            for index, process in list(self.processes.items()):
                if process.is_alive() or index in due or self.stopping:
                    continue
                code = process.exitcode
                if self.on_exit is not None and process.pid is not None:
                    self.on_exit(process.pid)
                if code == STARTUP_FAILURE:
                    log.error("worker %d failed to start (exit %d); stopping", index, code)
                    self.exit_code = STARTUP_FAILURE
                    self.stopping = True
                    break
                lived = now - self.started_at[index]
                self.restarts[index] = 0 if lived > 60 else self.restarts.get(index, 0) + 1
                delay = min(RESTART_BACKOFF_MAX, 0.5 * 2 ** self.restarts[index]) if self.restarts[index] else 0.0
                log.warning("worker %d exited (code %s) after %.0f s; restarting in %.1f s", index, code, lived, delay)
                due[index] = now + delay
            for index, when in list(due.items()):
                if when <= now and not self.stopping:
                    del due[index]
                    self._start(index, sockets)

    def _stop_all(self) -> None:
        for process in self.processes.values():
            if process.is_alive() and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + GRACEFUL_SECONDS + 5
        for process in self.processes.values():
            process.join(max(0.0, deadline - time.monotonic()))
        for process in self.processes.values():
            if process.is_alive():
                log.warning("worker pid=%s did not stop in time; killing it", process.pid)
                process.kill()
                process.join(5)
