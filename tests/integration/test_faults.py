"""Distributed mode under faults, on a real Kafka and FerretDB of this module's own (scripts/services
in a temporary run dir), every service a real process: a broker stopped under traffic and started
again with its data, a broker that lost its data, the events topic repartitioned, workers scaled
during traffic, SIGTERM while the broker is gone.

Each test prints its figures (outage length, deliveries, answers); docs/operations.md quotes them."""

from __future__ import annotations

import asyncio
import itertools
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import MongoClient

from tests.support.compare import Answers, answers
from tests.support.distributed import Distributed
from tests.support.embedded import Embedded
from tests.support.kafka_control import SERVICES, KafkaControl, services_env
from tests.support.process import Process, free_port, wait_until
from tests.support.traffic import Traffic, simulated
from tests.support.webhooks import Request

pytestmark = [pytest.mark.servers, pytest.mark.timeout(480)]

STOP_BUDGET = 25.0  # docs/architecture.md: a consumer service finishes and stops within 25 s of SIGTERM
NOW = datetime.now(UTC).replace(microsecond=0)
WINDOW = {
    "from": (NOW - timedelta(days=29)).isoformat().replace("+00:00", "Z"),
    "to": (NOW + timedelta(days=1)).isoformat().replace("+00:00", "Z"),
}
COUNTS = (
    ("deployment_frequency", "deployments"),
    ("change_failure_rate", "failed_deployments"),
    ("lead_time", "changes"),
)


@dataclass
class Servers:
    bootstrap: str
    mongo_uri: str
    kafka: KafkaControl


@pytest.fixture(scope="module")
def own_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """A Kafka + FerretDB for this module only: its tests stop and wipe the broker."""
    run_dir = tmp_path_factory.mktemp("fault-services")
    env = services_env(run_dir)
    # ports of our own (scripts/services would take 9092 and 27017 when free): a broker this module
    # stops must be its own, never another test run's on the machine
    for name in ("METRICSYNC_KAFKA_PORT", "METRICSYNC_KAFKA_CONTROLLER_PORT", "METRICSYNC_MONGO_PORT"):
        env[name] = str(free_port())
    up = subprocess.run([str(SERVICES), "up"], env=env, capture_output=True, text=True, timeout=900)
    try:
        assert up.returncode == 0, up.stderr[-3000:]
        printed = subprocess.run([str(SERVICES), "env"], env=env, capture_output=True, text=True, check=True)
        values = dict(line.split("=", 1) for line in printed.stdout.split() if "=" in line)
        bootstrap, mongo_uri = values["METRICSYNC_KAFKA_BOOTSTRAP"], values["METRICSYNC_MONGO_URI"]
        kafka = KafkaControl.of(run_dir, bootstrap)
        yield Servers(bootstrap, mongo_uri, kafka)
    finally:
        subprocess.run([str(SERVICES), "down"], env=env, capture_output=True, timeout=120)
        if "kafka" in locals():
            kafka.reap()


@pytest.fixture
def servers(own_servers: Servers) -> Servers:
    own_servers.kafka.start()  # a test that failed midway may have left it stopped
    return own_servers


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Embedded]:
    server = Embedded(tmp_path / "embedded")
    server.start()
    yield server
    if server.process is not None and server.process.alive():
        server.stop()


def system_of(servers: Servers, tmp_path: Path, partitions: int = 4) -> Distributed:
    system = Distributed(tmp_path / "distributed", servers.bootstrap, servers.mongo_uri, partitions=partitions)
    system.env["METRICSYNC_KAFKA_SEND_TIMEOUT"] = "1"
    return system


def post_all(target: Embedded | Distributed, requests: list[Request]) -> None:
    for request in requests:
        response = target.post(request)
        assert response.status_code == 202, f"{request.path}: {response.status_code} {response.text}"


def scopes_of(embedded: Embedded) -> list[dict[str, str]]:
    listed = httpx.get(f"{embedded.base}/api/v1/services", timeout=10).json()["services"]
    return [{}] + [{"service": s["service"]} for s in sorted(listed, key=lambda s: str(s["service"]))]


def converge(system: Distributed, embedded: Embedded, timeout: float = 120.0) -> Answers:
    """Wait until every answer of the distributed system equals embedded mode's for the same webhooks."""
    wait_until("embedded to catch up", embedded.caught_up)
    scopes = scopes_of(embedded)
    want = answers(embedded.base, scopes, WINDOW)
    try:
        wait_until(
            "distributed answers to equal embedded ones",
            lambda: answers(system.base, scopes, WINDOW) == want,
            timeout=timeout,
            interval=0.5,
        )
    except AssertionError:
        got = answers(system.base, scopes, WINDOW)
        diff = {k: (want.get(k), got.get(k)) for k in want if want.get(k) != got.get(k)}
        raise AssertionError(f"differences (want, got): {str(diff)[:3000]}\n{system.logs()}") from None
    return want


def consumers(system: Distributed) -> list[Process]:
    return [p for p in system.processes if p.args in (["normalizer"], ["worker"])]


def raw_count(system: Distributed) -> int:
    client: MongoClient[dict[str, object]] = MongoClient(system.mongo_uri)
    try:
        return client[system.prefix]["raw_deliveries"].count_documents({})
    finally:
        client.close()


def metrics_history(system: Distributed) -> dict[str, list[dict[str, object]]]:
    """Every snapshot on the metrics topic, per key, in the order a consumer reads them."""

    async def read() -> dict[str, list[dict[str, object]]]:
        consumer = AIOKafkaConsumer(bootstrap_servers=system.kafka_bootstrap, group_id=None, enable_auto_commit=False)
        await consumer.start()
        try:
            admin = AIOKafkaAdminClient(bootstrap_servers=system.kafka_bootstrap)
            await admin.start()
            try:
                described = await admin.describe_topics([system.metrics_topic])
            finally:
                await admin.close()
            partitions = [int(p["partition"]) for t in described for p in t["partitions"]]
            tps = [TopicPartition(system.metrics_topic, p) for p in sorted(partitions)]
            assert tps, f"no partitions known for {system.metrics_topic}"
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            history: dict[str, list[dict[str, object]]] = {}
            while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
                batch = await consumer.getmany(timeout_ms=1000)
                for records in batch.values():
                    for record in records:
                        assert record.key is not None
                        history.setdefault(record.key.decode(), []).append(orjson.loads(record.value))
            return history
        finally:
            await consumer.stop()

    return asyncio.run(read())


def backwards(history: dict[str, list[dict[str, object]]]) -> list[str]:
    """Keys whose counts went down from one snapshot to the next (nothing but additions were sent)."""
    found: list[str] = []
    for key, snapshots in history.items():
        for section, count in COUNTS:
            values = [int(s[section][count]) for s in snapshots]  # type: ignore[index]
            for before, after in itertools.pairwise(values):
                if after < before:
                    found.append(f"{key} {section}.{count} {before} -> {after}")
                    break
    return found


def unexpected_errors(system: Distributed) -> list[str]:
    lines: list[str] = []
    for process in consumers(system):
        text = process.log_path.read_text(errors="replace")
        lines += [f"{process.log_path.name}: {line}" for line in text.splitlines() if "Traceback" in line]
    return lines


def log_lines(process: Process) -> int:
    return len(process.log_path.read_text(errors="replace").splitlines())


def report(name: str, **figures: object) -> None:
    print(f"\nFIGURES {name}: " + " ".join(f"{k}={v}" for k, v in figures.items()))


def test_kafka_stopped_for_20_seconds_under_traffic(servers: Servers, tmp_path: Path, embedded: Embedded) -> None:
    system = system_of(servers, tmp_path)
    try:
        system.start(normalizers=2, workers=2)
        stream = simulated(services=5, days=21, now=NOW)
        post_all(embedded, stream)
        traffic = Traffic(system.base, stream, rate=8.0).start()  # ~45 s of traffic
        wait_until("a quarter of the traffic", lambda: traffic.sent >= len(stream) // 4, timeout=60)
        lines_before = {p.log_path: log_lines(p) for p in consumers(system)}
        sent_before = traffic.sent
        with servers.kafka.down_for(20.0) as outage:
            wait_until("traffic during the outage", lambda: traffic.sent >= sent_before + 40, timeout=30)
            dead = [p.args for p in consumers(system) if not p.alive()]
            assert dead == [], f"exited while Kafka was down: {dead}\n{system.logs()}"
        sent_during = traffic.sent - sent_before
        traffic.join()
        assert traffic.failures == []
        converge(system, embedded)
        exited = [(p.args, p.proc.returncode) for p in consumers(system) if not p.alive()]
        assert exited == [], f"exited: {exited}\n{system.logs()}"
        acknowledged = set(traffic.acknowledged)
        stored = raw_count(system)
        assert stored == len(acknowledged)
        logged = {p.log_path.name: log_lines(p) - lines_before[p.log_path] for p in consumers(system)}
        assert max(logged.values()) < 300, logged  # once per interval with a count, not once per attempt
        assert unexpected_errors(system) == []
        report(
            "outage",
            kafka_stop_s=f"{outage['stop']:.1f}",
            kafka_down_s=f"{outage['down']:.1f}",
            kafka_start_s=f"{outage['start']:.1f}",
            webhooks=len(stream),
            sent_while_down=sent_during,
            acknowledged=len(acknowledged),
            stored=stored,
            lost=len(acknowledged) - stored,
            answers=dict(traffic.answers),
            consumer_log_lines=logged,
        )
    finally:
        system.close()


def test_events_topic_8_to_12_partitions_with_3_workers_restarted(
    servers: Servers, tmp_path: Path, embedded: Embedded
) -> None:
    system = system_of(servers, tmp_path, partitions=8)
    try:
        system.start(normalizers=1, workers=3)
        stream = simulated(services=8, days=14, now=NOW)
        half = len(stream) // 2
        post_all(embedded, stream[:half])
        post_all(system, stream[:half])
        converge(system, embedded)
        old = [p for p in system.processes if p.args == ["worker"]]
        for worker in old:
            assert worker.stop() == 0, worker.log_tail()
        init = system.run(["init"], {"METRICSYNC_EVENTS_PARTITIONS": "12"})
        assert init.proc.wait(60) == 0, init.log_tail()
        said = init.log_path.read_text()
        assert re.search(r"\.events.*8 -> 12", said), said
        lower = system.run(["init"], {"METRICSYNC_EVENTS_PARTITIONS": "6"})
        assert lower.proc.wait(60) != 0, lower.log_tail()
        assert re.search(r"\.events.*12.*6|\.events.*6.*12", lower.log_tail()), lower.log_tail()
        system.env["METRICSYNC_EVENTS_PARTITIONS"] = "12"
        for _ in range(3):
            system.run(["worker"])
        post_all(embedded, stream[half:])
        post_all(system, stream[half:])
        converge(system, embedded)
        assert all(p.alive() for p in consumers(system) if p not in old), system.logs()
        assert unexpected_errors(system) == []
        history = metrics_history(system)
        assert backwards(history) == []
        report(
            "repartition",
            webhooks=len(stream),
            services=len(history),
            snapshots=sum(len(v) for v in history.values()),
        )
    finally:
        system.close()


def test_worker_scaled_1_to_3_to_1_during_traffic(servers: Servers, tmp_path: Path, embedded: Embedded) -> None:
    system = system_of(servers, tmp_path, partitions=8)
    try:
        system.start(normalizers=1, workers=1)
        stream = simulated(services=8, days=14, now=NOW, seed=12)
        post_all(embedded, stream)
        traffic = Traffic(system.base, stream, rate=6.0).start()  # ~64 s
        wait_until("a third of the traffic", lambda: traffic.sent >= len(stream) // 3, timeout=120)
        extra = [system.run(["worker"]) for _ in range(2)]
        for process in extra:  # started, in the group, consuming
            wait_until(
                "the new workers to get partitions",
                lambda p=process: "partitions assigned" in p.log_path.read_text(),
                timeout=120,
            )
        wait_until("two thirds of the traffic", lambda: traffic.sent >= 2 * len(stream) // 3, timeout=120)
        stopped = [(time.monotonic(), p.stop(timeout=STOP_BUDGET + 5)) for p in extra]
        assert [code for _, code in stopped] == [0, 0], system.logs()
        traffic.join()
        converge(system, embedded)
        assert all(p.alive() for p in consumers(system) if p not in extra), system.logs()
        assert unexpected_errors(system) == []
        history = metrics_history(system)
        assert backwards(history) == []
        assert raw_count(system) == len(set(traffic.acknowledged))
        report("scale", webhooks=len(stream), answers=dict(traffic.answers), snapshots=sum(map(len, history.values())))
    finally:
        system.close()


def test_kafka_that_lost_its_topics_recovers_by_the_documented_procedure(
    servers: Servers, tmp_path: Path, embedded: Embedded
) -> None:
    system = system_of(servers, tmp_path)
    # ingest answers `duplicate` (without publishing) for ids it acknowledged within this; 60 s by
    # default, shorter here so that the re-send below comes after it, as a real one would
    system.env["METRICSYNC_DUPLICATE_MEMORY"] = "10"
    try:
        system.start(normalizers=1, workers=1)
        stream = simulated(services=5, days=14, now=NOW, seed=13)
        first, middle, last = stream[:100], stream[100:150], stream[150:]
        post_all(embedded, first)
        post_all(system, first)
        converge(system, embedded)
        normalizer = next(p for p in system.processes if p.args == ["normalizer"])
        assert normalizer.stop() == 0
        post_all(system, middle)  # acknowledged by Kafka (the normalizer is away): on the broker only
        servers.kafka.stop()
        servers.kafka.lose_data()
        servers.kafka.start()
        system.run(["normalizer"])
        time.sleep(12)  # the consumers meet a broker without their topics (or auto-created ones)
        lost_alive = [p.args for p in consumers(system) if p.alive()]
        # docs/operations.md, "Kafka lost its data": init, then re-send what was acknowledged since
        # the last delivery stored in MongoDB; consumers still running resume by themselves.
        system.init()
        for process in consumers(system):
            if not process.alive():
                system.run(process.args)
        resent = [system.post(r) for r in middle]
        statuses = [r.json()["status"] for r in resent]
        assert statuses.count("duplicate") == 0, statuses
        post_all(embedded, middle + last)
        post_all(system, last)
        converge(system, embedded)
        assert raw_count(system) == len(stream)
        report("lost-topics", webhooks=len(stream), on_lost_broker_only=len(middle), survivors=lost_alive, lost=0)
    finally:
        system.close()


def test_sigterm_while_kafka_is_down_stops_every_service_in_time(servers: Servers, tmp_path: Path) -> None:
    system = system_of(servers, tmp_path)
    try:
        system.start(normalizers=1, workers=1)
        stream = simulated(services=3, days=7, now=NOW, seed=14)
        post_all(system, stream[:40])
        time.sleep(2)
        servers.kafka.stop()
        post_all(system, stream[40:80])  # spooled
        time.sleep(10)  # every consumer has met the outage
        running = [p for p in system.processes if p.alive()]
        for process in running:
            process.proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        took: dict[str, float] = {}
        while len(took) < len(running) and time.monotonic() - started < STOP_BUDGET + 15:
            for process in running:
                name = "-".join(process.args)
                if name not in took and not process.alive():
                    took[name] = round(time.monotonic() - started, 1)
            time.sleep(0.1)
        report("sigterm-outage", seconds=took)
        assert len(took) == len(running), f"still running after {STOP_BUDGET + 15}s: {took}\n{system.logs()}"
        assert max(took.values()) <= STOP_BUDGET + 1, took
    finally:
        servers.kafka.start()
        system.close()
