"""The series document is byte for byte what JSONResponse makes of the points' model_dump(mode="json")."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.responses import JSONResponse

from metrics_worker.timebase import Interval
from metricsync.web.read_api import _SERIES_POINTS, SeriesResponse
from schemas.metrics import SeriesPoint
from tests.unit.metrics_worker.factories import at, engine_of
from tests.unit.metrics_worker.randomized import random_stream

SCOPE: dict[str, Any] = {
    "service": 'caf\u00e9 "north"\n',
    "team": None,
    "environment": "prod-eu",
    "from": "2026-03-01T00:00:00Z",
    "to": "2026-03-12T00:00:00Z",
    "interval": "day",
}


def _as_json_response(scope: dict[str, Any], points: list[SeriesPoint]) -> JSONResponse:
    return JSONResponse({"scope": scope, "points": [p.model_dump(mode="json", by_alias=True) for p in points]})


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("interval", ["day", "week", "month"])
def test_series_of_random_histories(seed: int, interval: Interval) -> None:
    engine = engine_of(random_stream(seed))
    for services in (None, ["alpha"]):
        points = engine.series(services, "production", at(-7.5), at(230.25), interval)
        response, expected = SeriesResponse(SCOPE, points), _as_json_response(SCOPE, points)
        assert response.body == expected.body
        assert response.headers.items() == expected.headers.items()


@pytest.mark.parametrize("value", [5e-05, 1.5e-07, 1e-05, 9.99e-05, 1e-300, 1e-4, 0.0])
def test_floats_below_1e_4_are_written_as_json_writes_them(value: float) -> None:
    [point] = engine_of().series(None, "production", at(0), at(24), "day")
    lead = point.metrics.lead_time.model_copy(update={"median_seconds": value, "p90_seconds": 1e16})
    point = point.model_copy(update={"metrics": point.metrics.model_copy(update={"lead_time": lead})})
    expected = _as_json_response(SCOPE, [point]).body
    assert SeriesResponse(SCOPE, [point]).body == expected
    if 1e-299 < value < 1e-4:  # pydantic-core writes these otherwise: the slow way was taken
        assert _SERIES_POINTS.dump_json([point]) not in expected


def test_microseconds_in_bucket_edges() -> None:
    start = datetime(2026, 3, 2, 5, 6, 7, 891_000, tzinfo=UTC)
    points = engine_of(random_stream(3)).series(None, "production", start, start + timedelta(days=3), "day")
    assert SeriesResponse(SCOPE, points).body == _as_json_response(SCOPE, points).body
