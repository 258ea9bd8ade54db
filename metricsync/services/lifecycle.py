"""Running a consumer service (normalizer, worker) as a well-behaved process: heartbeat for
liveness probes, SIGTERM finishes the batch in hand, `--burst` exits when caught up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)


class ConsumerService(Protocol):
    last_poll: float  # time.monotonic() of the last poll that returned (heartbeat)

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def run(self, stop: asyncio.Event, burst: bool = False) -> None: ...


async def _heartbeat(service: ConsumerService, path: Path, stale_after: float = 60.0) -> None:
    """Touch `path` every 5 s while the service keeps polling; `metricsync healthcheck` reads it."""
    while True:
        if time.monotonic() - service.last_poll < stale_after:
            await asyncio.to_thread(path.touch)
        await asyncio.sleep(5)


async def run_consumer_service(
    service: ConsumerService,
    name: str,
    burst: bool,
    heartbeat_file: Path | None = None,
    drain_seconds: float = 25.0,
) -> None:
    """Run a consumer service until SIGTERM/SIGINT (or caught up, with burst); on a signal the
    batch in hand finishes (its offsets are committed) within `drain_seconds`, then it stops."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await service.start()
    runner = asyncio.create_task(service.run(stop, burst=burst), name=name)
    beat = asyncio.create_task(_heartbeat(service, heartbeat_file)) if heartbeat_file else None
    try:
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if runner in done:
            stopper.cancel()
            runner.result()
        else:
            log.info("%s stopping: finishing the batch in hand (up to %.0fs)", name, drain_seconds)
            try:
                await asyncio.wait_for(runner, timeout=drain_seconds)
            except TimeoutError:
                log.warning(
                    "%s did not finish its batch in %.0fs; uncommitted records will be replayed",
                    name,
                    drain_seconds,
                )
    finally:
        if beat is not None:
            beat.cancel()
        if not runner.done():
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        await service.stop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
