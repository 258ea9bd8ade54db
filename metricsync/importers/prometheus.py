"""`metricsync import prometheus`: incidents from a Prometheus' `ALERTS` history.

`GET /api/v1/query_range?query=ALERTS{alertstate="firing"}<matchers>&start&end&step`, in chunks of
at most 10,000 steps (Prometheus refuses more than 11,000 points a series), then each series is cut
into firing runs (normalizer/prometheus_alerts.py, which also says what the step hides). One record
per run. The step defaults to 60 s: a month is 5 requests. A smaller step gives exacter times and
more requests; it should not be below the rules' evaluation interval (no more samples exist).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from metricsync.importers.http import ApiClient, ImportFailed
from metricsync.importers.progress import Item
from metricsync.importers.records import prometheus_alert_run
from normalizer.prometheus_alerts import alert_labels, firing_runs
from normalizer.timeparse import rfc3339

log = logging.getLogger(__name__)

MAX_STEPS_PER_QUERY = 10_000
DEFAULT_MATCH = ""


@dataclass(frozen=True)
class PrometheusImport:
    since: datetime
    until: datetime
    step_seconds: int
    match: str  # extra label matchers, e.g. `severity=~"critical|page"`, or ""


def alerts_query(match: str) -> str:
    """`ALERTS{alertstate="firing",<match>}`; `match` may be given with or without `ALERTS{...}`."""
    inner = match.strip()
    if inner.startswith("ALERTS"):
        inner = inner[len("ALERTS") :].strip()
    inner = inner.removeprefix("{").removesuffix("}").strip()
    return 'ALERTS{alertstate="firing"' + (f",{inner}" if inner else "") + "}"


class PrometheusImporter:
    PHASES: ClassVar[tuple[str, ...]] = ("alerts",)

    def __init__(self, client: ApiClient, job: PrometheusImport, now: Callable[[], datetime]) -> None:
        self.client = client
        self.job = job
        self.now = now

    def phase(self, target: str, name: str) -> AsyncIterator[Item]:
        return self._alerts()

    async def _alerts(self) -> AsyncIterator[Item]:
        step = self.job.step_seconds
        query = alerts_query(self.job.match)
        series: dict[tuple[tuple[str, str], ...], list[float]] = {}
        start = self.job.since
        while start < self.job.until:
            end = min(self.job.until, start + timedelta(seconds=step * MAX_STEPS_PER_QUERY))
            page = await self.client.get(
                "api/v1/query_range",
                {"query": query, "start": rfc3339(start), "end": rfc3339(end), "step": f"{step}s"},
            )
            body = page.data
            if not isinstance(body, dict) or body.get("status") != "success":
                raise ImportFailed(f"Prometheus query_range failed: {body!r:.300}")
            for result in body["data"]["result"]:
                key = tuple(sorted(alert_labels(result["metric"]).items()))
                series.setdefault(key, []).extend(float(ts) for ts, _ in result["values"])
            start = end + timedelta(seconds=step)
        until = self.job.until.timestamp()
        for key, times in sorted(series.items()):
            labels = dict(key)
            for first, last in firing_runs(times, step):
                ongoing = until - last < step * 1.5
                yield prometheus_alert_run(labels, _utc(first), _utc(last), step, ongoing, self.now())


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
