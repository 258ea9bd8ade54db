"""`metricsync ingest` publishing through the batching publisher, with 1 and 2 worker processes, on
the real Kafka: every webhook answered 202 is in the raw topic exactly once (by delivery id), on
the partition aiokafka's partitioner gives its key; with Kafka away each worker spools into its own
slot, and when the worker count shrinks the survivors drain the orphaned slots too."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.partitioner import DefaultPartitioner

from tests.support.distributed import Distributed
from tests.support.process import free_port, wait_until
from tests.support.webhooks import GITHUB_SECRET, Request

pytestmark = [pytest.mark.servers, pytest.mark.timeout(300)]

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "github" / "push__single_commit.json"
PARTITIONS = 4


@pytest.fixture
def system(tmp_path: Path, kafka_bootstrap: str, mongo_uri: str) -> Iterator[Distributed]:
    distributed = Distributed(tmp_path / "distributed", kafka_bootstrap, mongo_uri, partitions=PARTITIONS)
    distributed.init()
    yield distributed
    distributed.close()


def pushes(count: int, tag: str) -> list[Request]:
    """Signed push webhooks over 12 repositories (spread over the partitions), unique delivery ids."""
    template = orjson.loads(FIXTURE.read_bytes())
    out = []
    for i in range(count):
        template["repository"]["full_name"] = f"acme/repo-{i % 12}"
        body = orjson.dumps(template)
        signature = hmac.new(GITHUB_SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": f"{tag}-{i}",
            "X-Hub-Signature-256": f"sha256={signature}",
        }
        out.append(Request("/webhooks/github", headers, body))
    return out


async def post_concurrently(base: str, requests: list[Request], clients: int = 16) -> list[int]:
    """Each of `clients` keep-alive connections posts its share; SO_REUSEPORT spreads connections."""
    statuses: list[int] = [0] * len(requests)

    async def one_client(offset: int) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            for i in range(offset, len(requests), clients):
                request = requests[i]
                response = await client.post(request.path, content=request.body, headers=request.headers)
                statuses[i] = response.status_code

    await asyncio.gather(*(one_client(offset) for offset in range(clients)))
    return statuses


async def raw_records(
    bootstrap: str, topic: str, expected: int, wait_seconds: float = 60
) -> list[tuple[int, bytes, str]]:
    """(partition, key, delivery id) of the raw topic's records, read from the start until `expected`
    have arrived (then a little longer, to catch duplicates)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    records: list[tuple[int, bytes, str]] = []
    try:
        deadline = asyncio.get_running_loop().time() + wait_seconds
        settle_until: float | None = None
        while asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                for m in messages:
                    records.append((m.partition, m.key or b"", dict(m.headers)["ms-delivery-id"].decode()))
            if len(records) >= expected and settle_until is None:
                settle_until = asyncio.get_running_loop().time() + 2
            if settle_until is not None and asyncio.get_running_loop().time() > settle_until:
                break
    finally:
        await consumer.stop()
    return records


def assert_exactly_once(records: list[tuple[int, bytes, str]], requests: list[Request]) -> None:
    counts = Counter(delivery_id for _, _, delivery_id in records)
    wanted = {r.headers["X-GitHub-Delivery"] for r in requests}
    assert set(counts) == wanted, (
        f"missing {sorted(wanted - set(counts))[:5]}, extra {sorted(set(counts) - wanted)[:5]}"
    )
    assert [d for d, n in counts.items() if n > 1] == []
    partitions = list(range(PARTITIONS))
    for partition, key, _ in records:  # where producer.send (the spool drain) puts the same key
        assert partition == DefaultPartitioner()(key, partitions, partitions)


def published_per_worker(system: Distributed) -> list[int]:
    text = "\n".join(p.log_path.read_text(errors="replace") for p in system.processes)
    return [int(n) for n in re.findall(r"kafka sink stopped published=(\d+)", text)]


@pytest.mark.parametrize("workers", [1, 2])
def test_every_202_is_in_kafka_exactly_once(system: Distributed, workers: int) -> None:
    ingest = system.start_ingest({"METRICSYNC_INGEST_WORKERS": str(workers)})
    requests = pushes(600, f"w{workers}")
    statuses = asyncio.run(post_concurrently(system.base, requests))
    assert statuses == [202] * len(requests)
    again = asyncio.run(post_concurrently(system.base, requests[:20], clients=1))  # redeliveries
    assert set(again) == {202}

    records = asyncio.run(raw_records(system.kafka_bootstrap, system.env["METRICSYNC_RAW_TOPIC"], len(requests)))
    # A redelivery reaching the process that took the original is a "duplicate" (not published
    # again); one reaching another process is published again, like any redelivery older than the
    # in-memory LRU (downstream is idempotent by delivery id).
    redelivered = {r.headers["X-GitHub-Delivery"] for r in requests[:20]}
    assert_exactly_once([r for r in records if r[2] not in redelivered], requests[20:])
    if workers == 1:
        assert_exactly_once(records, requests)
    assert ingest.stop() in (0, -15)  # one process: uvicorn re-raises the SIGTERM it handled
    spool = Path(system.env["METRICSYNC_SPOOL_DIR"])
    assert sorted(p.name for p in spool.iterdir()) == [f"worker-{i}" for i in range(workers)]
    published = published_per_worker(system)
    assert len(published) == workers
    assert all(n > 0 for n in published), published  # SO_REUSEPORT gave every worker connections
    assert sum(published) >= len(requests)


def test_two_workers_spool_while_kafka_is_away_and_one_worker_drains_both_spools(system: Distributed) -> None:
    dead = f"127.0.0.1:{free_port()}"  # nothing listens: Kafka is away for these workers
    down = {
        "METRICSYNC_KAFKA_BOOTSTRAP": dead,
        "METRICSYNC_KAFKA_SEND_TIMEOUT": "0.5",
        "METRICSYNC_INGEST_WORKERS": "2",
    }
    ingest = system.start_ingest(down)
    requests = pushes(120, "spooled")
    # A new connection per request: the kernel's hash spreads them over both workers.
    for request in requests:
        response = httpx.post(system.base + request.path, content=request.body, headers=request.headers, timeout=15)
        assert response.status_code == 202, response.text
    spool = Path(system.env["METRICSYNC_SPOOL_DIR"])
    logs = [spool / f"worker-{i}" / "spool.log" for i in range(2)]
    assert all(log.stat().st_size > 0 for log in logs), "each worker spooled into its own slot"
    assert ingest.stop() == 0

    # Back with one worker and Kafka reachable: worker-0 drains its own slot, and worker-1's (no
    # process holds it any more) as an orphan.
    system.start_ingest({"METRICSYNC_INGEST_WORKERS": "1"})
    wait_until("both spools to drain", lambda: all(log.stat().st_size == 0 for log in logs), timeout=60)
    records = asyncio.run(raw_records(system.kafka_bootstrap, system.env["METRICSYNC_RAW_TOPIC"], len(requests)))
    assert_exactly_once(records, requests)
