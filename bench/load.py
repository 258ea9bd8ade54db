"""HTTP load runs with wrk: warm-up, full-load runs, and paced runs at a fraction of the peak."""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

from bench import wrk
from bench.context import GITHUB_SECRET, BenchContext
from bench.wrk import WrkResult
from metricsync.simulation.signing import github_signature

log = logging.getLogger(__name__)

PUSH_TEMPLATE = "push__single_commit.json"
CALIBRATION_SECONDS = 3.0


def push_body() -> bytes:
    """The real GitHub push payload, byte for byte."""
    return resources.files("metricsync.templates").joinpath(PUSH_TEMPLATE).read_bytes()


class Load:
    """wrk scripts for one target (`tag` keeps delivery ids unique across targets and runs)."""

    def __init__(self, ctx: BenchContext, tag: str) -> None:
        self.ctx = ctx
        self.tag = tag
        body = push_body()
        self.body_path = ctx.path("push.json")
        self.body_path.write_bytes(body)
        self.signature = github_signature(GITHUB_SECRET, body)
        self._scripts = 0

    def script(self, delay_ms: float | None = None) -> Path:
        self._scripts += 1
        prefix = f"{self.ctx.run_id}-{self.tag}-{self._scripts}"
        path = self.ctx.path(f"wrk/{self.tag}-{self._scripts}.lua")
        path.write_text(wrk.lua_script(prefix, self.body_path, "/webhooks/github", self.signature, delay_ms))
        return path

    def full(self, base_url: str, seconds: float, connections: int | None = None) -> WrkResult:
        result = wrk.run(base_url, self.script(), seconds, connections or self.ctx.sizes.connections)
        self._check(result, base_url)
        return result

    def paced(self, base_url: str, rate: float, seconds: float, connections: int | None = None) -> WrkResult:
        """About `rate` requests/s: one calibration run measures each connection's overhead per request
        (latency plus client time) and the delay is set so that delay + overhead gives the rate."""
        conns = connections or self.ctx.sizes.connections
        interval_ms = conns / rate * 1000.0
        calibration = wrk.run(base_url, self.script(interval_ms), CALIBRATION_SECONDS, conns)
        overhead_ms = max(0.0, conns / max(calibration.rate, 1e-9) * 1000.0 - interval_ms)
        delay_ms = max(0.0, interval_ms - overhead_ms)
        result = wrk.run(base_url, self.script(delay_ms), seconds, conns)
        self._check(result, base_url)
        log.debug("paced %s target=%.0f/s achieved=%.0f/s delay=%.2fms", base_url, rate, result.rate, delay_ms)
        return result

    @staticmethod
    def _check(result: WrkResult, base_url: str) -> None:
        if result.requests == 0:
            raise RuntimeError(f"wrk completed no request against {base_url}")
        if result.errors > result.requests * 0.001:
            raise RuntimeError(
                f"{result.errors} of {result.requests} requests to {base_url} failed (non-2xx, socket errors)"
            )
