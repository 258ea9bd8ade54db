"""`metricsync import prometheus` against a local server answering `query_range` in the shape of
Prometheus' documented response (tests/fixtures/api/prometheus/query_range_matrix__up.json; series
and samples changed in the test code). The real Prometheus is in tests/integration."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from metricsync.importers.http import ApiClient
from metricsync.importers.prometheus import PrometheusImport, PrometheusImporter, alerts_query
from metricsync.importers.run import run_import
from metricsync.importers.state import ImportState
from normalizer.mapping import map_delivery
from normalizer.prometheus_alerts import firing_runs
from normalizer.rules import MappingRules
from schemas.events import IncidentOpened, IncidentResolved, UnifiedEvent
from tests.unit.importers.test_github_import import MemorySink, Sleeps
from tests.unit.normalizer.factories import alertmanager, fixture_json

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
STEP = 60


def matrix(series: list[tuple[dict[str, str], list[float]]]) -> dict[str, Any]:
    body: dict[str, Any] = fixture_json("api/prometheus", "query_range_matrix__up.json")
    template = body["data"]["result"][0]
    body["data"]["result"] = [
        {
            **template,
            "metric": {"__name__": "ALERTS", "alertstate": "firing", **labels},
            "values": [[t, "1"] for t in times],
        }
        for labels, times in series
    ]
    return body


LABELS = {"alertname": "HighErrorRate", "service": "acme/payments", "severity": "critical"}


def minutes(*offsets: int) -> list[float]:
    return [(T0 + timedelta(minutes=m)).timestamp() for m in offsets]


async def run(server: HTTPServer, tmp: Path, until: datetime, match: str = "") -> MemorySink:
    client = ApiClient(server.url_for("/"), {}, sleep=Sleeps())
    sink = MemorySink()
    job = PrometheusImport(since=T0 - timedelta(hours=1), until=until, step_seconds=STEP, match=match)
    try:
        await run_import(
            PrometheusImporter(client, job, lambda: until),
            ["prometheus"],
            job.since,
            sink,
            ImportState(tmp, "prometheus"),
            io.StringIO(),
            lambda: client.stats.requests,
        )
    finally:
        await client.close()
    return sink


def events(sink: MemorySink) -> list[UnifiedEvent]:
    return [e for r in sink.stored.values() for e in map_delivery(r, MappingRules())]


@pytest.mark.parametrize(
    ("match", "query"),
    [
        ("", 'ALERTS{alertstate="firing"}'),
        ('severity=~"critical|page"', 'ALERTS{alertstate="firing",severity=~"critical|page"}'),
        ('ALERTS{severity="page"}', 'ALERTS{alertstate="firing",severity="page"}'),
    ],
)
def test_the_query_takes_extra_matchers(match: str, query: str) -> None:
    assert alerts_query(match) == query


def test_samples_further_apart_than_one_and_a_half_steps_are_two_runs() -> None:
    assert firing_runs([0, 60, 120, 240, 300], 60) == [(0, 120), (240, 300)]
    assert firing_runs([0, 90], 60) == [(0, 90)]
    assert firing_runs([], 60) == []


async def test_a_firing_run_is_an_incident_resolved_a_step_after_its_last_sample(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    httpserver.expect_request("/api/v1/query_range").respond_with_json(matrix([(LABELS, minutes(0, 1, 2, 3))]))
    sink = await run(httpserver, tmp_path, until=T0 + timedelta(hours=1))
    opened = [e for e in events(sink) if isinstance(e, IncidentOpened)]
    resolved = [e for e in events(sink) if isinstance(e, IncidentResolved)]
    assert [(e.service, e.started_at) for e in opened] == [("acme/payments", T0)]
    assert [e.resolved_at for e in resolved] == [T0 + timedelta(minutes=4)]


async def test_a_run_still_firing_at_the_end_stays_open(httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_request("/api/v1/query_range").respond_with_json(matrix([(LABELS, minutes(0, 1, 2))]))
    sink = await run(httpserver, tmp_path, until=T0 + timedelta(minutes=2, seconds=30))
    kinds = [type(e) for e in events(sink)]
    assert kinds == [IncidentOpened]


async def test_alerts_that_do_not_match_alert_match_are_not_incidents(httpserver: HTTPServer, tmp_path: Path) -> None:
    warning = {**LABELS, "severity": "warning"}
    httpserver.expect_request("/api/v1/query_range").respond_with_json(matrix([(warning, minutes(0, 1))]))
    sink = await run(httpserver, tmp_path, until=T0 + timedelta(hours=1))
    assert len(sink.stored) == 1
    assert events(sink) == []


async def test_the_fingerprint_is_alertmanagers(httpserver: HTTPServer, tmp_path: Path) -> None:
    """The same labels through the Alertmanager webhook (a real v4 payload, labels set in the test)
    give the same fingerprint in the incident id; only the start differs (Prometheus' exact startsAt)."""
    httpserver.expect_request("/api/v1/query_range").respond_with_json(matrix([(LABELS, minutes(0, 1))]))
    sink = await run(httpserver, tmp_path, until=T0 + timedelta(hours=1))
    imported = next(e for e in events(sink) if isinstance(e, IncidentOpened))
    notification = fixture_json("alertmanager", "webhook_v4__resolved_single_full.json")
    alert = notification["alerts"][0]
    alert["labels"] = dict(LABELS)
    alert.pop("fingerprint", None)  # computed from the labels, as Alertmanager does
    webhook = next(e for e in map_delivery(alertmanager(notification), MappingRules()) if isinstance(e, IncidentOpened))
    assert imported.incident_id.split("@")[0] == webhook.incident_id.split("@")[0]


async def test_a_long_range_is_asked_in_chunks_of_ten_thousand_steps(httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_request("/api/v1/query_range").respond_with_json(matrix([]))
    client = ApiClient(httpserver.url_for("/"), {}, sleep=Sleeps())
    job = PrometheusImport(since=T0 - timedelta(days=30), until=T0, step_seconds=STEP, match="")
    try:
        await run_import(
            PrometheusImporter(client, job, lambda: T0),
            ["prometheus"],
            job.since,
            MemorySink(),
            ImportState(tmp_path, "prometheus"),
            io.StringIO(),
            lambda: client.stats.requests,
        )
    finally:
        await client.close()
    assert client.stats.requests == 5  # 43,200 steps of 60 s in 30 days
