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


async def test_scope_names_where_the_record_of_deployments_begins_when_the_window_starts_before_it() -> None:
    """`scope.history_from`: the scope's first deployment on record, when the window starts before it
    (docs/metrics.md, "Where the record begins"); per environment and per scope."""
    from tests.unit.metrics_worker.factories import deploy

    engine = MetricEngine(EngineConfig())
    engine.apply_many(
        [
            deploy("a1", None, 100, service="a"),  # T0 + 100 h = 2026-03-06T04:00Z
            deploy("a2", None, 130, service="a"),
            deploy("b1", None, 50, service="b"),  # T0 + 50 h = 2026-03-04T02:00Z
            deploy("s1", None, 10, service="b", environment="staging"),  # another environment's record
        ]
    )
    api = ReadApi(LiveEngineSource(lambda: engine), Settings().catalog(), None, lambda: NOW)
    app = Starlette(routes=api.routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        before = {"from": at(-24 * 7).isoformat(), "to": at(24).isoformat()}  # ends before any deployment
        after = {"from": at(60).isoformat(), "to": at(200).isoformat()}  # starts after b's first
        for path in ("/api/v1/dora", "/api/v1/dora/series", "/api/v1/lead-time", "/api/v1/insights"):
            everything = await _get(client, path, **before)
            assert everything["scope"]["history_from"] == "2026-03-04T02:00:00Z", path  # type: ignore[index]
            one = await _get(client, path, service="a", **before)
            assert one["scope"]["history_from"] == "2026-03-06T04:00:00Z", path  # type: ignore[index]
            staging = await _get(client, path, environment="staging", **before)
            assert staging["scope"]["history_from"] == "2026-03-02T10:00:00Z", path  # type: ignore[index]
            begun = await _get(client, path, service="b", **after)
            assert begun["scope"]["history_from"] is None, path  # type: ignore[index]
            inside = await _get(client, path, **after)
            assert inside["scope"]["history_from"] is None, path  # type: ignore[index]
