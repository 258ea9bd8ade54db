"""Liveness and readiness probes, each showing how every source is verified.

`verification` maps source -> mode: "hmac-sha256" (or "hmac-sha256+sha1") for GitHub, "token" for
Jenkins/Alertmanager, "off" when the source has no secret and METRICSYNC_ALLOW_UNSIGNED=true
(requests accepted unverified), "unconfigured" when it has no secret (requests refused with 401).
"""

import asyncio
import logging
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ingest.responses import json_response
from schemas.ports import DeliverySink

log = logging.getLogger(__name__)

READY_TIMEOUT_SECONDS = 5.0


async def _not_ready_reason(sink: DeliverySink) -> str | None:
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            return await sink.check_ready()
    except TimeoutError:
        return f"the delivery sink did not answer its readiness check within {READY_TIMEOUT_SECONDS:g} s"
    except Exception as e:
        log.warning("readiness check failed error=%s", type(e).__name__, exc_info=True)
        return f"the delivery sink's readiness check failed ({type(e).__name__})"


def create_health_routes(sink: DeliverySink, verification: Mapping[str, str]) -> list[BaseRoute]:
    """`GET /healthz`: 200 while the process serves. `GET /readyz`: 200 when the sink is ready, else
    503 with the reason."""
    modes = dict(verification)

    async def healthz(request: Request) -> Response:
        return json_response(200, {"status": "ok", "verification": modes})

    async def readyz(request: Request) -> Response:
        reason = await _not_ready_reason(sink)
        if reason is None:
            return json_response(200, {"status": "ready", "verification": modes})
        return json_response(503, {"status": "unavailable", "reason": reason, "verification": modes})

    return [Route("/healthz", healthz, methods=["GET"]), Route("/readyz", readyz, methods=["GET"])]
