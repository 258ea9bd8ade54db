"""A distributed MetricSync (ingest, normalizers, workers as real processes) on the test servers,
with its own topics, consumer groups, database and spool, all removed afterwards."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from tests.support.process import Process, free_port, wait_http_ok
from tests.support.webhooks import SECRETS_ENV, Request


class Distributed:
    def __init__(self, tmp_path: Path, kafka_bootstrap: str, mongo_uri: str, partitions: int = 4) -> None:
        self.tmp = tmp_path
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.prefix = f"t{uuid.uuid4().hex[:10]}"
        self.kafka_bootstrap = kafka_bootstrap
        self.mongo_uri = mongo_uri
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **SECRETS_ENV,
            "METRICSYNC_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "METRICSYNC_MONGO_URI": mongo_uri,
            "METRICSYNC_MONGO_DB": self.prefix,
            "METRICSYNC_RAW_TOPIC": f"{self.prefix}.raw",
            "METRICSYNC_EVENTS_TOPIC": f"{self.prefix}.events",
            "METRICSYNC_METRICS_TOPIC": f"{self.prefix}.metrics",
            "METRICSYNC_DEAD_LETTER_TOPIC": f"{self.prefix}.dead-letter",
            "METRICSYNC_RAW_PARTITIONS": str(partitions),
            "METRICSYNC_EVENTS_PARTITIONS": str(partitions),
            "METRICSYNC_METRICS_PARTITIONS": "2",
            "METRICSYNC_NORMALIZER_GROUP": f"{self.prefix}-normalizer",
            "METRICSYNC_WORKER_GROUP": f"{self.prefix}-worker",
            "METRICSYNC_SPOOL_DIR": str(tmp_path / "spool"),
            "METRICSYNC_PORT": str(self.port),
            "METRICSYNC_LOG_LEVEL": "INFO",
            # several consumers on one host: no /metrics listener unless a test gives each a port
            "METRICSYNC_METRICS_PORT": "0",
        }
        self.processes: list[Process] = []
        self._count = 0

    @property
    def metrics_topic(self) -> str:
        return self.env["METRICSYNC_METRICS_TOPIC"]

    def run(self, args: list[str], extra_env: dict[str, str] | None = None) -> Process:
        self._count += 1
        name = "-".join(args).replace("/", "_")
        process = Process(args, {**self.env, **(extra_env or {})}, self.tmp / f"{self._count:02d}-{name}.log")
        self.processes.append(process)
        return process

    def init(self) -> None:
        process = self.run(["init"])
        code = process.proc.wait(60)
        assert code == 0, process.log_tail()
        process.stop()

    def start_ingest(self, extra_env: dict[str, str] | None = None) -> Process:
        process = self.run(["ingest", "--with-api"], extra_env)
        wait_http_ok(f"{self.base}/healthz", process)
        return process

    def start(self, normalizers: int = 1, workers: int = 1) -> None:
        self.init()
        self.start_ingest()
        for _ in range(normalizers):
            self.run(["normalizer"])
        for _ in range(workers):
            self.run(["worker"])

    def post(self, request: Request) -> httpx.Response:
        return httpx.post(self.base + request.path, content=request.body, headers=request.headers, timeout=15)

    def get(self, path: str, **params: str) -> httpx.Response:
        return httpx.get(self.base + path, params=params, timeout=15)

    def logs(self) -> str:
        """The processes' last log lines for a failure message; a process that exited comes first, with
        more of its log (its traceback is what the failure is about, and a long message gets cut)."""
        dead = [p for p in self.processes if not p.alive()]
        shown = [f"--- {p.log_path.name} (exited {p.proc.returncode})\n{p.log_tail(120)}" for p in dead]
        shown += [f"--- {p.log_path.name}\n{p.log_tail(40)}" for p in self.processes if p not in dead]
        return "\n".join(shown)

    def close(self) -> None:
        for process in self.processes:
            process.stop()
        asyncio.run(self._drop())

    async def _drop(self) -> None:
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(self.mongo_uri)
        try:
            await client.drop_database(self.prefix)
        finally:
            await client.close()
        admin = AIOKafkaAdminClient(bootstrap_servers=self.kafka_bootstrap)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            ours = [t for t in existing if t.startswith(self.prefix)]
            if ours:
                await admin.delete_topics(ours)
        finally:
            await admin.close()
