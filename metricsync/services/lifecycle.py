"""Running a consumer service (normalizer, worker) as a well-behaved process: heartbeat for
liveness and readiness probes, SIGTERM finishes the batch in hand and exits within the stop
timeout whatever state Kafka is in, `--burst` exits when caught up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from pathlib import Path

from schemas.ports import ConsumerService

log = logging.getLogger(__name__)

CLOSE_RESERVE = 5.0  # seconds of the stop timeout kept for leaving the group and closing clients
READY = "ready"


def heartbeat_text(service: ConsumerService) -> str:
    """The heartbeat file's content: "ready", or "not ready: <why>" during a long outage."""
    return READY if service.outage.ready else f"not ready: {service.outage.detail()}"


async def _heartbeat(service: ConsumerService, path: Path, stale_after: float = 60.0) -> None:
    """Every 5 s while the service keeps polling, write its readiness to `path` (which refreshes the
    file's time); `metricsync healthcheck` reads both."""
    while True:
        if time.monotonic() - service.last_poll < stale_after:
            await asyncio.to_thread(path.write_text, heartbeat_text(service) + "\n")
        await asyncio.sleep(5)


async def run_consumer_service(
    service: ConsumerService,
    name: str,
    burst: bool,
    heartbeat_file: Path | None = None,
    stop_timeout: float = 25.0,
) -> None:
    """Run a consumer service until SIGTERM/SIGINT (or caught up, with burst). On a signal the batch
    in hand finishes (its offsets are committed) within `stop_timeout` - CLOSE_RESERVE seconds, then
    the service stops within what is left: the process exits within `stop_timeout` of the signal,
    also when Kafka is gone (what could not be committed is processed again by the next owner)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await service.start()
    runner = asyncio.create_task(service.run(stop, burst=burst), name=name)
    beat = asyncio.create_task(_heartbeat(service, heartbeat_file)) if heartbeat_file else None
    deadline: float | None = None
    try:
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if runner in done:
            stopper.cancel()
            runner.result()
        else:
            deadline = loop.time() + stop_timeout
            drain = max(1.0, stop_timeout - CLOSE_RESERVE)
            log.info("%s stopping: finishing the batch in hand (up to %.0fs)", name, drain)
            try:
                await asyncio.wait_for(runner, timeout=drain)
            except TimeoutError:
                log.warning("%s did not finish its batch in %.0fs; uncommitted records will be replayed", name, drain)
    finally:
        if beat is not None:
            beat.cancel()
        if not runner.done():
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        if deadline is None:
            await service.stop()
        else:
            try:
                async with asyncio.timeout(max(1.0, deadline - loop.time())):
                    await service.stop()
            except TimeoutError:
                log.warning("%s: leaving the group and closing clients took too long; exiting anyway", name)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
