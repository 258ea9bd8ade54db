"""Scenario 6: the read API over the large history of scenario 5 (built here if that did not run).

In-process: the embedded read API's routes (ReadApi over the live engine, as `metricsync serve`
mounts them) called as an ASGI app directly, no socket, so the figures are handler + engine +
JSON time. Each figure: `runs` rounds of `read_repeats` requests (fewer, at least 3, for reads
slower than ~170 ms), the median of each round.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from starlette.applications import Starlette

from bench.context import BenchContext
from bench.engine_history import build
from bench.http import asgi_get
from bench.results import Figure, Target
from metricsync.embedded.web_app import LiveEngineSource
from metricsync.web.read_api import ReadApi
from schemas.catalog import ServiceCatalog

SCENARIO = "6 read API"


async def _time(app: Starlette, path: str, query: dict[str, str], repeats: int) -> float:
    encoded = urlencode(query)
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        status, body = await asgi_get(app, path, encoded)
        samples.append((time.perf_counter() - t0) * 1000)
        if status != 200:
            raise RuntimeError(f"GET {path}?{encoded} answered {status}: {body[:300]!r}")
    return statistics.median(samples)


def run(ctx: BenchContext) -> None:
    sizes = ctx.sizes
    if "engine" not in ctx.cache:
        services = min(500, max(1, sizes.history_small // 20))
        end = datetime.now(UTC).replace(microsecond=0)
        engine, _ = build(sizes.history_large, 0, 0, services, end)
        ctx.cache["engine"] = (engine, end, services, sizes.history_large)
    engine, end, _, history = ctx.cache["engine"]
    api = ReadApi(LiveEngineSource(lambda: engine), ServiceCatalog(), None, lambda: end)
    app = Starlette(routes=api.routes())
    service = sorted(s.service for s in engine.services())[0]
    window = {"from": (end - timedelta(days=365)).isoformat(), "to": end.isoformat()}
    cases: list[tuple[str, str, dict[str, str], Target | None]] = [
        ("dora, one service, 365 days", "/api/v1/dora", {**window, "service": service}, Target("<", 10)),
        ("dora, all services, 365 days", "/api/v1/dora", window, Target("<", 50)),
        (
            "series day, one service, 365 days",
            "/api/v1/dora/series",
            {**window, "service": service, "interval": "day"},
            None,
        ),
        ("series day, all services, 365 days", "/api/v1/dora/series", {**window, "interval": "day"}, Target("<", 50)),
    ]

    async def measure() -> list[list[float]]:
        out = []
        for _, path, query, _ in cases:
            first = await _time(app, path, query, 1)  # warm; slow reads get fewer repeats (>= 3, ~5 s a round)
            repeats = max(3, min(sizes.read_repeats, int(5000 / max(first, 1e-3))))
            out.append([await _time(app, path, query, repeats) for _ in range(sizes.runs)])
        return out

    results = asyncio.run(measure())
    for (name, _, _, target), samples in zip(cases, results, strict=True):
        ctx.add(Figure(SCENARIO, f"{name} (p50)", "ms", samples, target))
    ctx.note(
        SCENARIO,
        f"Engine holding {history:,} events ({len(engine.services())} services, a year of history). "
        + " ".join((__doc__ or "").split("\n\n")[1].split()),
    )
