"""The DORA gauges: per service and environment, the trailing window's metrics, computed at scrape
time from the same engine and with the same function (`dora_report`) as `GET /api/v1/dora`, so the
two agree for the same service, environment and window."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from metrics_worker.documents import dora_report
from metrics_worker.engine import MetricEngine
from metricsync.telemetry.definitions import DORA_GAUGES, DORA_WINDOW, Family
from schemas.catalog import ServiceCatalog
from schemas.ports import MetricsSource

LEVELS = {"elite": 4, "high": 3, "medium": 2, "low": 1}
LEVEL_METRICS = ("deployment_frequency", "lead_time", "change_failure_rate", "time_to_restore")

# family name -> (block, field) of the /api/v1/dora document
_FIELDS: dict[str, tuple[str, str]] = {
    "metricsync_dora_deployments_count": ("deployment_frequency", "deployments"),
    "metricsync_dora_deployments_per_day": ("deployment_frequency", "per_day"),
    "metricsync_dora_lead_time_median_seconds": ("lead_time", "median_seconds"),
    "metricsync_dora_lead_time_p90_seconds": ("lead_time", "p90_seconds"),
    "metricsync_dora_change_failure_ratio": ("change_failure_rate", "rate"),
    "metricsync_dora_time_to_restore_median_seconds": ("time_to_restore", "median_seconds"),
    "metricsync_dora_failed_deployment_recovery_median_seconds": ("failed_deployment_recovery", "median_seconds"),
    "metricsync_dora_rework_ratio": ("rework_rate", "rate"),
}


def gauge_samples(report: dict[str, Any]) -> dict[str, list[tuple[tuple[str, ...], float]]]:
    """The gauge values of one /api/v1/dora document: family name -> [(extra label values, value)].
    A metric without a sample (null in the document) has no series."""
    out: dict[str, list[tuple[tuple[str, ...], float]]] = {}
    for name, (block, field) in _FIELDS.items():
        value = report[block][field]
        if value is not None:
            out[name] = [((), float(value))]
    levels: list[tuple[tuple[str, ...], float]] = []
    for metric in LEVEL_METRICS:
        level = report[metric]["level"]
        if level is not None:
            levels.append(((metric,), float(LEVELS[level])))
    if levels:
        out["metricsync_dora_level"] = levels
    return out


class DoraCollector(Collector):
    """Call `await refresh()` before each collection (the /metrics route does); `collect` then serves
    what it computed. Refreshing reads the engine; collecting is plain data (prometheus_client calls
    it from any thread)."""

    def __init__(
        self,
        source: MetricsSource[MetricEngine],
        catalog: ServiceCatalog,
        window: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self.source = source
        self.catalog = catalog
        self.window = window
        self.clock = clock
        self._rows: list[tuple[str, str, str, dict[str, list[tuple[tuple[str, ...], float]]]]] = []

    async def refresh(self) -> None:
        self._rows = []  # a failed refresh shows no values rather than the last ones
        engine = await self.source.engine_for(None)
        end = self.clock()
        start = end - self.window
        rows = []
        for summary in engine.services():
            for environment in summary.environments:
                report = dora_report(
                    engine,
                    services=[summary.service],
                    service=summary.service,
                    team=None,
                    environment=environment,
                    start=start,
                    end=end,
                )
                team = self.catalog.team_of(summary.service) or ""
                rows.append((summary.service, team, environment, gauge_samples(report)))
        self._rows = rows

    def collect(self) -> Iterator[Metric]:
        window = GaugeMetricFamily(DORA_WINDOW.name, DORA_WINDOW.help)
        window.add_metric([], self.window.total_seconds())
        yield window
        for family in DORA_GAUGES:
            yield self._family(family)

    def _family(self, family: Family) -> GaugeMetricFamily:
        metric = GaugeMetricFamily(family.name, family.help, labels=family.labels)
        for service, team, environment, samples in self._rows:
            for extra, value in samples.get(family.name, ()):
                metric.add_metric([service, team, environment, *extra], value)
        return metric
