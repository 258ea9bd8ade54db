"""What every scenario gets: sizes, a work directory, the servers (started on first use), the report."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.results import Figure, Report
from bench.servers import Endpoints, Servers

log = logging.getLogger(__name__)

GITHUB_SECRET = "bench-github-secret"
JENKINS_TOKEN = "bench-jenkins-token"
ALERTMANAGER_TOKEN = "bench-alertmanager-token"
SECRETS_ENV = {
    "METRICSYNC_GITHUB_SECRET": GITHUB_SECRET,
    "METRICSYNC_JENKINS_TOKEN": JENKINS_TOKEN,
    "METRICSYNC_ALERTMANAGER_TOKEN": ALERTMANAGER_TOKEN,
}


@dataclass(frozen=True, slots=True)
class Sizes:
    runs: int = 3  # repetitions of every figure
    load_seconds: float = 10.0  # one wrk run at full load
    paced_seconds: float = 10.0  # one wrk run at 50 % of peak
    connections: int = 32
    e2e_rates: tuple[int, ...] = (200, 1000)
    e2e_seconds: float = 8.0
    e2e_services: int = 50
    pipeline_events: int = 50_000  # 1,000,000 does not fit the 15-minute budget on FerretDB (docs/benchmarks.md)
    pipeline_services: int = 500
    history_small: int = 10_000
    history_large: int = 1_000_000
    measured_events: int = 10_000  # events timed on top of a history
    read_repeats: int = 30
    rebuild_runs: int = 1
    ingest_workers: int | None = None  # scenario 1: processes of ingest and of its ceiling (None: the default)


FULL = Sizes()
QUICK = Sizes(
    runs=1,
    load_seconds=2,
    paced_seconds=2,
    connections=16,
    e2e_rates=(50,),
    e2e_seconds=2,
    e2e_services=5,
    pipeline_events=3_000,
    pipeline_services=20,
    history_small=1_000,
    history_large=5_000,
    measured_events=500,
    read_repeats=3,
)


def sizes_with(base: Sizes, **overrides: Any) -> Sizes:
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})


@dataclass
class BenchContext:
    sizes: Sizes
    workdir: Path
    report: Report
    servers: Servers
    cache: dict[str, Any] = field(default_factory=dict)  # shared between scenarios (datasets, engines)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def endpoints(self) -> Endpoints:
        return self.servers.get()

    def add(self, figure: Figure) -> Figure:
        self.report.figures.append(figure)
        log.info("  %s / %s: %s", figure.scenario, figure.name, figure.value_text())
        return figure

    def note(self, scenario: str, text: str) -> None:
        self.report.note(scenario, text)

    def path(self, name: str) -> Path:
        path = self.workdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def distributed_env(self, prefix: str, partitions: int = 8) -> dict[str, str]:
        """Settings of a distributed MetricSync with its own topics, groups, database and spool."""
        endpoints = self.endpoints()
        return {
            **SECRETS_ENV,
            "METRICSYNC_KAFKA_BOOTSTRAP": endpoints.kafka_bootstrap,
            "METRICSYNC_MONGO_URI": endpoints.mongo_uri,
            "METRICSYNC_MONGO_DB": prefix.replace(".", "_").replace("-", "_"),
            "METRICSYNC_RAW_TOPIC": f"{prefix}.raw",
            "METRICSYNC_EVENTS_TOPIC": f"{prefix}.events",
            "METRICSYNC_METRICS_TOPIC": f"{prefix}.metrics",
            "METRICSYNC_DEAD_LETTER_TOPIC": f"{prefix}.dead-letter",
            "METRICSYNC_RAW_PARTITIONS": str(partitions),
            "METRICSYNC_EVENTS_PARTITIONS": str(partitions),
            "METRICSYNC_METRICS_PARTITIONS": str(partitions),
            "METRICSYNC_NORMALIZER_GROUP": f"{prefix}-normalizer",
            "METRICSYNC_WORKER_GROUP": f"{prefix}-worker",
            "METRICSYNC_SPOOL_DIR": str(self.path(f"{prefix}/spool")),
            "METRICSYNC_LOG_LEVEL": "INFO",
            "METRICSYNC_METRICS_PORT": "0",  # several consumers on one host: no /metrics listeners
        }
