"""Distributed mode on the real Kafka and Mongo-wire servers, every service a real process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from metricsync.simulation.team import SimulationPlan, plan_webhooks
from tests.support import scenario
from tests.support.compare import answers
from tests.support.distributed import Distributed
from tests.support.embedded import Embedded
from tests.support.process import free_port, wait_until
from tests.support.webhooks import Request, github_deployment, github_push, sha_of, signed

pytestmark = [pytest.mark.servers, pytest.mark.timeout(300)]

SERVICES = Path(__file__).resolve().parents[2] / "scripts" / "services"
SIM_NOW = datetime(2026, 3, 20, 18, 0, tzinfo=UTC)
SIM_WINDOW = {"from": "2026-02-01T00:00:00Z", "to": "2026-03-21T00:00:00Z"}


@pytest.fixture
def distributed(tmp_path: Path, kafka_bootstrap: str, mongo_uri: str) -> Iterator[Distributed]:
    system = Distributed(tmp_path / "distributed", kafka_bootstrap, mongo_uri)
    yield system
    system.close()


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Embedded]:
    server = Embedded(tmp_path / "embedded")
    server.start()
    yield server
    if server.process is not None and server.process.alive():
        server.stop()


def simulated_stream(services: int, days: int) -> list[Request]:
    hooks = plan_webhooks(SimulationPlan(days=days, services=services, seed=11), SIM_NOW)
    return signed(hooks)


def post_all(target: Embedded | Distributed, requests: list[Request]) -> None:
    for request in requests:
        response = target.post(request)
        assert response.status_code == 202, f"{request.path}: {response.status_code} {response.text}"


def scenario_scopes() -> list[dict[str, str]]:
    return [{}, {"service": "acme/shop"}, {"service": "acme/pay"}]


def test_same_answers_as_embedded_and_as_hand_computed(distributed: Distributed, embedded: Embedded) -> None:
    distributed.start()
    requests = scenario.requests()
    post_all(embedded, requests)
    post_all(distributed, requests)
    wait_until("embedded to catch up", embedded.caught_up)
    want = answers(embedded.base, scenario_scopes(), scenario.WINDOW)
    try:
        wait_until(
            "distributed answers to equal embedded ones",
            lambda: answers(distributed.base, scenario_scopes(), scenario.WINDOW) == want,
            timeout=60,
        )
    except AssertionError:
        got = answers(distributed.base, scenario_scopes(), scenario.WINDOW)
        raise AssertionError(f"want {want}\ngot {got}\n{distributed.logs()}") from None
    dora = distributed.get("/api/v1/dora", **scenario.WINDOW).json()
    assert scenario.mismatches("", dora) == []
    for service in ("acme/shop", "acme/pay"):
        report = distributed.get("/api/v1/dora", service=service, **scenario.WINDOW).json()
        assert scenario.mismatches(service, report) == []


def test_scale_out_with_a_worker_killed_mid_stream(distributed: Distributed, embedded: Embedded) -> None:
    stream = simulated_stream(services=5, days=21)
    scopes: list[dict[str, str]] = [{}] + [
        {"service": f"acme/{name}"} for name in ("payments", "checkout", "catalog", "search", "accounts")
    ]
    distributed.start(normalizers=2, workers=2)
    victim = next(p for p in distributed.processes if p.args == ["worker"])
    post_all(embedded, stream)
    half = len(stream) // 2
    post_all(distributed, stream[:half])
    time.sleep(1.0)  # let the workers get through part of it
    victim.kill()
    post_all(distributed, stream[half:])
    wait_until("embedded to catch up", embedded.caught_up)
    want = answers(embedded.base, scopes, SIM_WINDOW)
    try:
        wait_until(
            "distributed answers to equal embedded ones after the kill",
            lambda: answers(distributed.base, scopes, SIM_WINDOW) == want,
            timeout=120,
            interval=0.5,
        )
    except AssertionError:
        raise AssertionError(distributed.logs()) from None
    services = {s["service"] for s in distributed.get("/api/v1/services").json()["services"]}
    assert services == {f"acme/{n}" for n in ("payments", "checkout", "catalog", "search", "accounts")}


def test_kafka_unreachable_spools_then_drains_in_order(distributed: Distributed) -> None:
    distributed.init()
    dead = f"127.0.0.1:{free_port()}"  # nothing listens here: Kafka is "down" for this ingest
    down_env = {"METRICSYNC_KAFKA_BOOTSTRAP": dead, "METRICSYNC_KAFKA_SEND_TIMEOUT": "0.5"}
    ingest = distributed.start_ingest(down_env)
    requests = scenario.requests()
    post_all(distributed, requests)
    spool = Path(distributed.env["METRICSYNC_SPOOL_DIR"]) / "worker-0" / "spool.log"  # the one process's slot
    assert spool.stat().st_size > sum(len(r.body) for r in requests)
    ready = distributed.get("/readyz")
    assert ready.status_code == 503
    assert "Kafka" in ready.text
    ingest.stop()

    distributed.start_ingest()  # Kafka reachable again: the spool drains in order
    distributed.run(["normalizer"])
    distributed.run(["worker"])
    wait_until("the spool to drain", lambda: spool.stat().st_size == 0, timeout=60)
    wait_until(
        "metrics from the spooled deliveries",
        lambda: scenario.mismatches("", distributed.get("/api/v1/dora", **scenario.WINDOW).json()) == [],
        timeout=60,
    )


def test_spool_full_and_kafka_unreachable_answers_503(distributed: Distributed) -> None:
    dead = f"127.0.0.1:{free_port()}"
    env = {
        "METRICSYNC_KAFKA_BOOTSTRAP": dead,
        "METRICSYNC_KAFKA_SEND_TIMEOUT": "0.5",
        "METRICSYNC_SPOOL_MAX_BYTES": "12000",
    }
    distributed.start_ingest(env)
    statuses = [distributed.post(r) for r in scenario.requests()[:6]]
    codes = [r.status_code for r in statuses]
    assert codes[0] == 202
    assert 503 in codes, codes
    refused = statuses[codes.index(503)]
    assert int(refused.headers["retry-after"]) > 0
    assert "spool" in refused.json()["detail"]


def test_realtime_consumer_sees_the_snapshot_after_a_deployment(distributed: Distributed) -> None:
    distributed.start()

    async def consume_until_deployed() -> tuple[dict[str, object], float]:
        consumer = AIOKafkaConsumer(
            distributed.metrics_topic,
            bootstrap_servers=distributed.kafka_bootstrap,
            auto_offset_reset="earliest",
            group_id=None,
        )
        await consumer.start()
        try:
            # snapshots cover the last 30 days: this deployment happened just now
            now = datetime.now(UTC)
            c1, c2 = sha_of("rt-c1"), sha_of("rt-c2")
            push = github_push("acme/shop", "0" * 40, [(c1, now - timedelta(hours=3)), (c2, now - timedelta(hours=2))])
            assert (await asyncio.to_thread(distributed.post, push)).status_code == 202
            deploy = github_deployment("acme/shop", 501, c2, now - timedelta(minutes=5))
            sent = time.monotonic()
            assert (await asyncio.to_thread(distributed.post, deploy)).status_code == 202
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for record in records:
                        value = orjson.loads(record.value)
                        if record.key == b"acme/shop" and value["deployment_frequency"]["deployments"] == 1:
                            return value, time.monotonic() - sent
            raise AssertionError("no snapshot with the deployment arrived")
        finally:
            await consumer.stop()

    snapshot, latency = asyncio.run(consume_until_deployed())
    assert snapshot["scope"]["service"] == "acme/shop"  # type: ignore[index]
    assert "as_of" in snapshot
    assert snapshot["lead_time"]["changes"] == 2  # type: ignore[index]
    assert latency < 30


@pytest.fixture
def private_servers(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A Kafka + FerretDB of this test's own (scripts/services in a temp run dir), so the test can
    pause its broker without touching the session's servers."""
    run_dir = tmp_path / "services"
    env = {**os.environ, "METRICSYNC_SERVICES_DIR": str(run_dir), "METRICSYNC_PYTHON": sys.executable}
    up = subprocess.run([str(SERVICES), "up"], env=env, capture_output=True, text=True, timeout=600)
    try:
        assert up.returncode == 0, up.stderr[-3000:]
        printed = subprocess.run([str(SERVICES), "env"], env=env, capture_output=True, text=True, check=True)
        values = dict(line.split("=", 1) for line in printed.stdout.split() if "=" in line)
        values["kafka_pid"] = (run_dir / "kafka" / "pid").read_text().strip()
        yield values
    finally:
        subprocess.run([str(SERVICES), "down"], env=env, capture_output=True, timeout=120)


def test_kafka_down_for_a_while_spools_then_drains(tmp_path: Path, private_servers: dict[str, str]) -> None:
    system = Distributed(
        tmp_path / "paused", private_servers["METRICSYNC_KAFKA_BOOTSTRAP"], private_servers["METRICSYNC_MONGO_URI"]
    )
    system.env["METRICSYNC_KAFKA_SEND_TIMEOUT"] = "1"
    kafka = int(private_servers["kafka_pid"])
    try:
        system.start()
        requests = scenario.requests()
        post_all(system, requests[:5])
        os.kill(kafka, signal.SIGSTOP)  # the broker stops answering: a hung or partitioned Kafka
        try:
            started = time.monotonic()
            post_all(system, requests[5:])
            spool = Path(system.env["METRICSYNC_SPOOL_DIR"]) / "worker-0" / "spool.log"
            assert spool.stat().st_size > 0
            assert time.monotonic() - started < 10  # 1 s timeout for the first, straight to spool after
            time.sleep(2)
        finally:
            os.kill(kafka, signal.SIGCONT)
        wait_until("the spool to drain", lambda: spool.stat().st_size == 0, timeout=90)
        wait_until(
            "metrics from spooled and direct deliveries",
            lambda: scenario.mismatches("", system.get("/api/v1/dora", **scenario.WINDOW).json()) == [],
            timeout=90,
        )
    except AssertionError:
        raise AssertionError(system.logs()) from None
    finally:
        system.close()


def test_init_twice_and_unmappable_deliveries_go_to_the_dead_letter_topic(distributed: Distributed) -> None:
    distributed.init()
    distributed.start()  # runs init a second time: safe
    first = scenario.requests()[6]  # a Jenkins COMPLETED notification of acme/pay
    body = orjson.loads(first.body)
    body["build"]["phase"] = "EXPLODED"  # ingest stores it (identity is complete); no mapper knows the phase
    broken = Request(first.path, first.headers, orjson.dumps(body))
    assert distributed.post(broken).status_code == 202
    post_all(distributed, scenario.requests())  # the same partition keeps moving

    async def dead_letters() -> list[dict[str, object]]:
        consumer = AIOKafkaConsumer(
            distributed.env["METRICSYNC_DEAD_LETTER_TOPIC"],
            bootstrap_servers=distributed.kafka_bootstrap,
            auto_offset_reset="earliest",
            group_id=None,
        )
        await consumer.start()
        try:
            batch = await consumer.getmany(timeout_ms=20000, max_records=10)
            return [orjson.loads(r.value) for records in batch.values() for r in records]
        finally:
            await consumer.stop()

    letters = asyncio.run(dead_letters())
    assert len(letters) == 1
    assert letters[0]["source"] == "jenkins"
    assert "phase" in str(letters[0]["error"])
    wait_until(
        "metrics of the deliveries after the dead letter",
        lambda: scenario.mismatches("", distributed.get("/api/v1/dora", **scenario.WINDOW).json()) == [],
        timeout=60,
    )
    status = distributed.get("/api/v1/status").json()
    assert status["dead_letters"] == 1
    assert status["raw_deliveries"] == len(scenario.requests()) + 1
    assert status["mode"] == "distributed"
    assert {(c["group"], c["topic"]) for c in status["consumers"]} == {
        (distributed.env["METRICSYNC_NORMALIZER_GROUP"], distributed.env["METRICSYNC_RAW_TOPIC"]),
        (distributed.env["METRICSYNC_WORKER_GROUP"], distributed.env["METRICSYNC_EVENTS_TOPIC"]),
    }
    wait_until(
        "the consumer groups to commit everything (caught_up, lag 0)",
        lambda: (lambda s: s["caught_up"] is True and s["lag"] == 0)(distributed.get("/api/v1/status").json()),
        timeout=60,
    )


def test_rebuild_distributed_rederives_state_and_workers_continue(distributed: Distributed, tmp_path: Path) -> None:
    distributed.start()
    post_all(distributed, scenario.requests())
    wait_until(
        "the scenario's metrics",
        lambda: scenario.mismatches("", distributed.get("/api/v1/dora", **scenario.WINDOW).json()) == [],
        timeout=60,
    )
    for process in distributed.processes:
        if process.args in (["normalizer"], ["worker"]):
            process.stop()
    config = tmp_path / "services.toml"
    config.write_text('[services.storefront]\naliases = ["acme/shop", "acme/pay"]\n')
    rebuild = distributed.run(["rebuild", "--distributed"], {"METRICSYNC_CONFIG": str(config)})
    assert rebuild.proc.wait(120) == 0, rebuild.log_tail()
    assert "done: 16 events, 0 dead letters, 1 services" in rebuild.log_path.read_text(), rebuild.log_tail()

    # the last normalizers ran without the catalog the history is now derived with: status says so
    rules = distributed.get("/api/v1/status").json()["rules"]
    assert rules["rebuild_needed"] is True
    assert rules["derived_with"] != rules["normalizer"]

    # the API serves the re-derived state: both histories as one service (see the embedded rebuild test)
    merged = distributed.get("/api/v1/dora", service="storefront", **scenario.WINDOW).json()
    assert merged["deployment_frequency"]["deployments"] == 5
    assert merged["change_failure_rate"]["failed_deployments"] == 3

    # workers resume after the rebuild: old events are not applied twice, new ones are
    env = {"METRICSYNC_CONFIG": str(config)}
    distributed.run(["normalizer"], env)
    distributed.run(["worker"], env)
    extra = github_deployment("acme/shop", 104, sha_of("shop-c4"), scenario.T + timedelta(hours=6))
    assert distributed.post(extra).status_code == 202
    wait_until(
        "the new deployment on top of the rebuilt state",
        lambda: (
            distributed.get("/api/v1/dora", service="storefront", **scenario.WINDOW).json()["deployment_frequency"][
                "deployments"
            ]
            == 6
        ),
        timeout=60,
    )
    again = distributed.get("/api/v1/dora", service="storefront", **scenario.WINDOW).json()
    assert again["lead_time"]["changes"] == 6  # nothing counted twice
    rules = distributed.get("/api/v1/status").json()["rules"]
    assert rules == {"derived_with": rules["normalizer"], "normalizer": rules["normalizer"], "rebuild_needed": False}
