"""A read whose window starts before a service's horizon says so: `scope.retained_from` in /dora and
/dora/series (docs/metrics.md, "Retention")."""

from datetime import timedelta

import httpx
from starlette.applications import Starlette

from metrics_worker.engine import EngineConfig, MetricEngine
from metricsync.embedded.web_app import LiveEngineSource
from metricsync.settings import Settings
from metricsync.web.read_api import ReadApi
from tests.unit.metrics_worker.factories import at
from tests.unit.metrics_worker.test_retention import example

NOW = at(800)


async def _get(client: httpx.AsyncClient, path: str, **params: str) -> dict[str, object]:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_scope_names_the_horizon_only_when_the_window_reaches_past_it() -> None:
    engine = MetricEngine(EngineConfig(retention=timedelta(days=10)))
    engine.apply_many(example())
    assert engine.prune(NOW) == {"svc"}  # horizon h732 - 240 h = h492 (the worked example)
    api = ReadApi(LiveEngineSource(lambda: engine), Settings().catalog(), None, lambda: NOW)
    app = Starlette(routes=api.routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        past = {"from": "2026-01-01T00:00:00Z", "to": at(800).isoformat()}  # T0 is 2026-03-02
        inside = {"from": at(600).isoformat(), "to": at(800).isoformat()}
        for path in ("/api/v1/dora", "/api/v1/dora/series"):
            reaching = await _get(client, path, service="svc", **past)
            assert reaching["scope"]["retained_from"] == "2026-03-22T12:00:00Z", path  # type: ignore[index]
            everything = await _get(client, path, **past)
            assert everything["scope"]["retained_from"] == "2026-03-22T12:00:00Z", path  # type: ignore[index]
            kept = await _get(client, path, service="svc", **inside)
            assert kept["scope"]["retained_from"] is None, path  # type: ignore[index]
