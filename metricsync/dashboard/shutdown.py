"""End the live streams when the server is asked to stop.

uvicorn's graceful shutdown waits for every response in flight, and a stream never finishes by
itself: one open dashboard held `metricsync serve` for the whole graceful timeout (10 s) and then
left a traceback. uvicorn installs its SIGTERM/SIGINT handlers before the app's lifespan starts; the
lifespan calls `end_streams_on_signals` to put a handler in front of them that ends the hub's streams
(on the event loop) and then lets uvicorn's handler do the rest.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from metricsync.dashboard.hub import StreamHub

SIGNALS = (signal.SIGTERM, signal.SIGINT)


def end_streams_on_signals(hub: StreamHub) -> Callable[[], None]:
    """Chain a handler that closes `hub` before the current SIGTERM/SIGINT handlers; returns a function
    that puts the previous handlers back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signals reach only the main thread; a server elsewhere is stopped by its owner
    loop = asyncio.get_running_loop()
    previous: dict[int, Any] = {}

    def handler(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(hub.close)
        before = previous.get(signum)
        if callable(before):
            before(signum, frame)
        elif before == signal.SIG_DFL:
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)

    for sig in SIGNALS:
        previous[sig] = signal.getsignal(sig)
        signal.signal(sig, handler)

    def restore() -> None:
        for sig, before in previous.items():
            if signal.getsignal(sig) is handler:
                signal.signal(sig, before)

    return restore
