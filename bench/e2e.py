"""Scenario 3: end-to-end latency, distributed: webhook accepted (202 read by the sender) -> the snapshot
on the metrics topic that counts it.

A real ingest, normalizer and worker run as processes. The sender posts GitHub deployment_status
webhooks (production, success, timed "now") round-robin over N fresh services at a steady rate
(scheduled send times, keep-alive connections); the k-th deployment of a service is visible once a
snapshot of that service shows >= k deployments in its last-30-days report. A warm-up deployment
per service (not measured) loads every service first.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import defaultdict
from datetime import UTC, datetime

import orjson
import uvloop
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.context import GITHUB_SECRET, BenchContext
from bench.http import Connection
from bench.procs import Proc, free_port, wait_http
from bench.results import Figure, Target
from metricsync.simulation.payloads import iso
from metricsync.simulation.signing import github_signature
from metricsync.simulation.workload import deployment_status_template

SCENARIO = "3 end-to-end latency, distributed"
CONNECTIONS = 16
# The path of one webhook, cut where a timestamp is known: the sender's clock at both ends, Kafka's
# CreateTime (set when the producer appends the record: ms resolution) between.
HOPS = (
    "ingest (request written -> 202 read)",
    "normalizer (202 -> its event appended to the events topic)",
    "worker (event appended -> counting snapshot appended)",
    "snapshot to reader (appended -> read by the bench)",
)


class _Tracker:
    def __init__(self) -> None:
        self.sent: dict[str, int] = defaultdict(int)  # service -> deployments sent
        self.accepted: dict[tuple[str, int], float] = {}  # (service, k) -> 202 read at
        self.visible: dict[tuple[str, int], float] = {}  # (service, k) -> first snapshot with count >= k
        self.seen: dict[str, int] = defaultdict(int)
        # for the per-hop breakdown: perf_counter times, Kafka's CreateTime converted (ms resolution)
        self.posted: dict[tuple[str, int], float] = {}  # (service, k) -> request written
        self.normalized: dict[tuple[str, int], float] = {}  # (service, k) -> its event appended by the normalizer
        self.snapshotted: dict[tuple[str, int], float] = {}  # (service, k) -> first counting snapshot appended
        self.events_seen: dict[str, int] = defaultdict(int)
        self.wall_offset = time.time() - time.perf_counter()

    def snapshot(self, service: str, count: int, at: float, created_ms: int) -> None:
        created = created_ms / 1000 - self.wall_offset
        for k in range(self.seen[service] + 1, count + 1):
            self.visible[(service, k)] = at
            self.snapshotted[(service, k)] = created
        self.seen[service] = max(self.seen[service], count)

    def deployment_event(self, service: str, created_ms: int) -> None:
        """A deployment event on the events topic (each webhook here maps to one)."""
        self.events_seen[service] += 1
        self.normalized[(service, self.events_seen[service])] = created_ms / 1000 - self.wall_offset

    def caught_up(self) -> bool:
        return all(self.seen[s] >= n for s, n in self.sent.items())

    def latencies(self, keys: list[tuple[str, int]]) -> list[float]:
        return [(self.visible[k] - self.accepted[k]) * 1000 for k in keys if k in self.visible and k in self.accepted]

    def hops(self, keys: list[tuple[str, int]]) -> dict[str, list[float]]:
        """Milliseconds each webhook spent per hop (HOPS), for those every timestamp was seen for."""
        out: dict[str, list[float]] = {hop: [] for hop in HOPS}
        marks = (self.posted, self.accepted, self.normalized, self.snapshotted, self.visible)
        for k in keys:
            if all(k in m for m in marks):
                times = [m[k] for m in marks]
                for hop, start, end in zip(HOPS, times, times[1:], strict=False):
                    out[hop].append((end - start) * 1000)
        return out


class _Sender:
    def __init__(self, port: int, services: list[str], tracker: _Tracker) -> None:
        self.port = port
        self.services = services
        self.tracker = tracker
        self.template = deployment_status_template()
        self.next_id = int(time.time() * 1000) % 1_000_000_000 * 100
        self.failures = 0

    def _webhook(self, service: str) -> tuple[dict[str, str], bytes]:
        self.next_id += 2
        now = datetime.now(UTC)
        body = self.template.render(
            {
                "repo": service,
                "name": service.split("/")[1],
                "deployment_id": self.next_id,
                "status_id": self.next_id + 1,
                "sha": f"{self.next_id:040x}",
                "state": "success",
                "created": iso(now),
                "updated": iso(now),
            }
        )
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "deployment_status",
            "X-GitHub-Delivery": f"bench-e2e-{self.next_id}",
            "X-Hub-Signature-256": github_signature(GITHUB_SECRET, body),
        }
        return headers, body

    async def send(self, rate: float, count: int) -> list[tuple[str, int]]:
        """`count` webhooks at `rate`/s; the (service, k) keys sent."""
        queue: asyncio.Queue[tuple[str, int] | None] = asyncio.Queue()
        keys: list[tuple[str, int]] = []

        async def worker() -> None:
            connection = Connection("127.0.0.1", self.port)
            try:
                while (job := await queue.get()) is not None:
                    service, k = job
                    headers, body = self._webhook(service)
                    self.tracker.posted[(service, k)] = time.perf_counter()
                    status, _ = await connection.post("/webhooks/github", headers, body)
                    if status == 202:
                        self.tracker.accepted[(service, k)] = time.perf_counter()
                    else:
                        self.failures += 1
            finally:
                await connection.close()

        workers = [asyncio.create_task(worker()) for _ in range(CONNECTIONS)]
        started = time.perf_counter()
        for n in range(count):
            due = started + n / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            service = self.services[n % len(self.services)]
            self.tracker.sent[service] += 1
            key = (service, self.tracker.sent[service])
            keys.append(key)
            queue.put_nowait(key)
        for _ in workers:
            queue.put_nowait(None)
        await asyncio.gather(*workers)
        return keys


Runs = list[tuple[list[float], dict[str, list[float]]]]  # per run: latencies, hop durations


async def _measure(
    ctx: BenchContext, port: int, bootstrap: str, topics: tuple[str, str], partitions: int
) -> dict[int, Runs]:
    sizes = ctx.sizes
    services = [f"acme/e2e-{ctx.run_id}-{i:03d}" for i in range(sizes.e2e_services)]
    tracker = _Tracker()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=5)
    await consumer.start()
    try:
        events_topic = topics[1]
        tps = [TopicPartition(topic, p) for topic in topics for p in range(partitions)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            consumer.seek(tp, ends[tp])

        async def consume() -> None:
            while True:
                batches = await consumer.getmany(timeout_ms=50)
                at = time.perf_counter()
                for tp, records in batches.items():
                    for record in records:
                        doc = orjson.loads(record.value)
                        if tp.topic == events_topic:
                            if doc.get("kind") == "deployment":
                                tracker.deployment_event(record.key.decode(), record.timestamp)
                            continue
                        deployments = int(doc["deployment_frequency"]["deployments"])
                        tracker.snapshot(record.key.decode(), deployments, at, record.timestamp)

        reader = asyncio.create_task(consume())
        sender = _Sender(port, services, tracker)
        await sender.send(max(50.0, len(services) * 5.0), len(services))  # warm-up: one per service
        await _wait(tracker, 60.0)
        out: dict[int, Runs] = {}
        for rate in sizes.e2e_rates:
            out[rate] = []
            for _ in range(sizes.runs):
                keys = await sender.send(rate, int(rate * sizes.e2e_seconds))
                await _wait(tracker, 60.0)
                out[rate].append((tracker.latencies(keys), tracker.hops(keys)))
        reader.cancel()
        if sender.failures:
            raise RuntimeError(f"{sender.failures} webhooks were not answered 202")
        return out
    finally:
        await consumer.stop()


async def _wait(tracker: _Tracker, seconds: float) -> None:
    deadline = time.perf_counter() + seconds
    while not tracker.caught_up():
        if time.perf_counter() > deadline:
            missing = sum(n - tracker.seen[s] for s, n in tracker.sent.items() if tracker.seen[s] < n)
            raise RuntimeError(f"{missing} deployments not visible on the metrics topic after {seconds}s")
        await asyncio.sleep(0.01)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(ctx: BenchContext) -> None:
    prefix = f"bench-{ctx.run_id}-e2e"
    env = ctx.distributed_env(prefix)
    Proc(["init"], env, ctx.path("logs/e2e-init.log")).wait(120)
    port = free_port()
    procs = [
        Proc(["ingest"], {**env, "METRICSYNC_PORT": str(port)}, ctx.path("logs/e2e-ingest.log")),
        Proc(["normalizer"], env, ctx.path("logs/e2e-normalizer.log")),
        Proc(["worker"], env, ctx.path("logs/e2e-worker.log")),
    ]
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz", procs[0])
        results = uvloop.run(
            _measure(
                ctx,
                port,
                env["METRICSYNC_KAFKA_BOOTSTRAP"],
                (env["METRICSYNC_METRICS_TOPIC"], env["METRICSYNC_EVENTS_TOPIC"]),
                int(env["METRICSYNC_METRICS_PARTITIONS"]),
            )
        )
    finally:
        for proc in procs:
            proc.stop()
    for rate, runs in results.items():
        latencies = [r for r, _ in runs]
        ctx.add(Figure(SCENARIO, f"p50 at {rate}/s", "ms", [statistics.median(r) for r in latencies], Target("<", 100)))
        ctx.add(Figure(SCENARIO, f"p99 at {rate}/s", "ms", [_percentile(r, 0.99) for r in latencies], Target("<", 500)))
        for hop in HOPS:
            medians = [statistics.median(hops[hop]) for _, hops in runs if hops[hop]]
            ctx.add(Figure(SCENARIO, f"p50 at {rate}/s, hop {hop}", "ms", medians))
    ctx.note(
        SCENARIO,
        f"ingest + normalizer + worker processes (8 partitions per topic); {ctx.sizes.e2e_services} services, "
        f"GitHub deployment_status webhooks timed now, sent at a steady rate (scheduled send times, "
        f"{CONNECTIONS} keep-alive connections) for {ctx.sizes.e2e_seconds:.0f} s per run; latency from the "
        "sender reading the 202 to the bench's consumer (fetch_max_wait 5 ms) reading the first snapshot "
        "whose deployment count includes the webhook. The hop figures split that path (plus the request "
        "itself) at the Kafka CreateTime of the webhook's event on the events topic and of the snapshot: "
        "producer append times, millisecond resolution; each is the median of its run's per-webhook "
        "hop times, so the hop medians need not add up to the total's.",
    )
