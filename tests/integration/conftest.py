"""Fixtures for tests that talk to real servers: Apache Kafka and a MongoDB-wire server.

Where the servers come from, per session (``kafka_bootstrap`` and ``mongo_uri``):

1. ``METRICSYNC_KAFKA_BOOTSTRAP`` / ``METRICSYNC_MONGO_URI`` when set (``scripts/test`` sets them after
   ``scripts/services up``; point them at any server you like);
2. else, when a Docker engine answers, the ``apache/kafka`` and ``mongo`` images via testcontainers;
3. else ``scripts/services up`` with a temporary run dir, stopped at the end of the session.

``METRICSYNC_TEST_SERVERS=docker|local`` forces step 2 or 3. When a server cannot be had, the test is
skipped with the reason - except in CI (``CI=true``) or with ``METRICSYNC_REQUIRE_SERVERS=1``, where it
fails loudly: the integration suite must never pass by skipping there.

Per test: ``topic_name`` (unique), ``create_topic`` (async factory: topic with N partitions, deleted
afterwards), ``mongo_db_name`` (unique) and ``mongo_db`` (an ``AsyncMongoClient`` database, dropped
afterwards). Tests in this directory are marked ``@pytest.mark.servers``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Protocol
from urllib.parse import urlparse

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient, MongoClient

if TYPE_CHECKING:
    from pymongo.asynchronous.database import AsyncDatabase
    from testcontainers.core.container import DockerContainer

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES_SCRIPT = REPO_ROOT / "scripts" / "services"

KAFKA_IMAGE = "apache/kafka:4.1.1"
MONGO_IMAGE = "mongo:8.0"
SERVICES_UP_TIMEOUT_S = 900  # a cold first `up` builds FerretDB: minutes on 2 cores
READY_TIMEOUT_S = 60.0

# Topic names: [a-zA-Z0-9._-], at most 249. Mongo database names: at most 63 bytes; FerretDB also
# wants them to start with a letter or digit and hold only letters, digits, '_' and '-'.
_UNSAFE = re.compile(r"[^a-zA-Z0-9]+")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _must_have_servers() -> bool:
    return _in_ci() or os.environ.get("METRICSYNC_REQUIRE_SERVERS", "") not in ("", "0")


def _unavailable(reason: str) -> NoReturn:
    """Fail in CI (never skip real-server tests there); skip with the reason elsewhere."""
    if _must_have_servers():
        pytest.fail(f"real server unavailable: {reason}", pytrace=False)
    pytest.skip(f"real server unavailable: {reason} (set CI=true to make this a failure)")


def unique_name(prefix: str, hint: str, max_len: int = 60) -> str:
    """``prefix-hint-<8 hex>``, made of letters, digits and '-', at most ``max_len`` characters."""
    suffix = uuid.uuid4().hex[:8]
    hint = _UNSAFE.sub("-", hint).strip("-").lower()
    room = max_len - len(prefix) - len(suffix) - 2
    return f"{prefix}-{hint[:room].rstrip('-')}-{suffix}" if room > 0 and hint else f"{prefix}-{suffix}"


# --- readiness -----------------------------------------------------------------------------------


async def _list_topics(bootstrap: str, deadline: float) -> list[str]:
    """List topics, retrying until ``deadline`` (a ``time.monotonic()`` value) passes."""
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        try:
            await admin.start()
            topics: list[str] = await admin.list_topics()
            return topics
        except Exception:
            if time.monotonic() > deadline:
                raise
        finally:
            await admin.close()
        await asyncio.sleep(0.5)


def _check_kafka(bootstrap: str, timeout: float = READY_TIMEOUT_S) -> None:
    try:
        asyncio.run(_list_topics(bootstrap, time.monotonic() + timeout))
    except Exception as exc:
        _unavailable(f"Kafka at {bootstrap} does not answer a topic listing: {exc!r}")


def _check_mongo(uri: str, timeout: float = READY_TIMEOUT_S) -> None:
    client: MongoClient[dict[str, Any]] = MongoClient(uri, serverSelectionTimeoutMS=int(timeout * 1000))
    try:
        client.admin.command("ping")
    except Exception as exc:
        _unavailable(f"MongoDB at {uri} does not answer ping: {exc!r}")
    finally:
        client.close()


# --- where the servers come from ------------------------------------------------------------------


def _server_source() -> str:
    choice = os.environ.get("METRICSYNC_TEST_SERVERS", "auto").strip().lower()
    if choice not in ("auto", "docker", "local"):
        raise pytest.UsageError(f"METRICSYNC_TEST_SERVERS={choice!r}: use auto, docker or local")
    if choice != "auto":
        return choice
    return "docker" if _docker_answers() else "local"


def _docker_answers() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        done = subprocess.run([docker, "info"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _docker_host() -> str:
    """The address published container ports are reached at (DOCKER_HOST's host for a remote engine)."""
    url = urlparse(os.environ.get("DOCKER_HOST", ""))
    return url.hostname if url.scheme in ("tcp", "http", "https") and url.hostname else "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Endpoints:
    kafka_bootstrap: str
    mongo_uri: str


def _parse_env_lines(text: str) -> dict[str, str]:
    pairs = (line.removeprefix("export ").split("=", 1) for line in text.splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs}


@contextlib.contextmanager
def _per_test_timeout_paused() -> Iterator[None]:
    """Pause pytest-timeout's SIGALRM timer (signal method) while a cold ``up`` builds for minutes."""
    remaining, _ = signal.getitimer(signal.ITIMER_REAL)
    if remaining:
        signal.setitimer(signal.ITIMER_REAL, 0)
    try:
        yield
    finally:
        if remaining:
            signal.setitimer(signal.ITIMER_REAL, remaining)


@pytest.fixture(scope="session")
def local_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoints]:
    """Both servers started by ``scripts/services up`` in a temporary run dir, stopped afterwards."""
    run_dir = tmp_path_factory.mktemp("services")
    # This interpreter has aiokafka and pymongo: the script's readiness checks use them.
    env = {**os.environ, "METRICSYNC_SERVICES_DIR": str(run_dir), "METRICSYNC_PYTHON": sys.executable}
    # Prefer free ports: a developer's own `scripts/services up` may hold the defaults.
    env.setdefault("METRICSYNC_KAFKA_PORT", "0")
    env.setdefault("METRICSYNC_KAFKA_CONTROLLER_PORT", "0")
    env.setdefault("METRICSYNC_MONGO_PORT", "0")
    try:
        try:
            with _per_test_timeout_paused():
                up = subprocess.run(
                    [str(SERVICES_SCRIPT), "up"],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=SERVICES_UP_TIMEOUT_S,
                    check=False,
                    stdin=subprocess.DEVNULL,
                )
        except subprocess.TimeoutExpired:
            _unavailable(f"scripts/services up did not finish within {SERVICES_UP_TIMEOUT_S}s")
        if up.returncode != 0:
            _unavailable(f"scripts/services up failed (exit {up.returncode}):\n{up.stderr[-4000:]}")
        values = _parse_env_lines(up.stdout)
        yield Endpoints(values["METRICSYNC_KAFKA_BOOTSTRAP"], values["METRICSYNC_MONGO_URI"])
    finally:
        subprocess.run(
            [str(SERVICES_SCRIPT), "down"],
            env=env,
            capture_output=True,
            timeout=120,
            check=False,
            stdin=subprocess.DEVNULL,
        )


def _start_container(container: DockerContainer, what: str) -> None:
    try:
        container.start()
    except Exception as exc:
        with contextlib.suppress(Exception):
            container.stop()
        _unavailable(f"could not start the {what} container: {exc!r}")


@pytest.fixture(scope="session")
def docker_kafka() -> Iterator[str]:
    """``apache/kafka`` in KRaft mode, listening inside and outside on the same free port."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    host, port = _docker_host(), _free_port()
    container = (
        DockerContainer(KAFKA_IMAGE)
        .with_bind_ports(port, port)
        .with_envs(
            KAFKA_NODE_ID="1",
            KAFKA_PROCESS_ROLES="broker,controller",
            KAFKA_LISTENERS=f"PLAINTEXT://:{port},CONTROLLER://:9093",
            KAFKA_ADVERTISED_LISTENERS=f"PLAINTEXT://{host}:{port}",
            KAFKA_CONTROLLER_LISTENER_NAMES="CONTROLLER",
            KAFKA_LISTENER_SECURITY_PROTOCOL_MAP="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            KAFKA_CONTROLLER_QUORUM_VOTERS="1@localhost:9093",
            KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR="1",
            KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS="1",
            KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR="1",
            KAFKA_TRANSACTION_STATE_LOG_MIN_ISR="1",
            KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR="1",
            KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR="1",
            KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS="0",
        )
        .waiting_for(LogMessageWaitStrategy("Kafka Server started").with_startup_timeout(120))
    )
    _start_container(container, KAFKA_IMAGE)
    try:
        yield f"{host}:{port}"
    finally:
        container.stop()


@pytest.fixture(scope="session")
def docker_mongo() -> Iterator[str]:
    """The ``mongo`` image, no auth, on a published port."""
    from testcontainers.core.container import DockerContainer

    container = DockerContainer(MONGO_IMAGE).with_exposed_ports(27017)
    _start_container(container, MONGO_IMAGE)
    try:
        yield f"mongodb://{container.get_container_host_ip()}:{container.get_exposed_port(27017)}/"
    finally:
        container.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(request: pytest.FixtureRequest) -> str:
    """``host:port`` of a real Kafka broker for this test session."""
    bootstrap = os.environ.get("METRICSYNC_KAFKA_BOOTSTRAP", "").strip()
    if not bootstrap:
        if _server_source() == "docker":
            bootstrap = request.getfixturevalue("docker_kafka")
        else:
            bootstrap = request.getfixturevalue("local_services").kafka_bootstrap
    _check_kafka(bootstrap)
    return bootstrap


@pytest.fixture(scope="session")
def mongo_uri(request: pytest.FixtureRequest) -> str:
    """``mongodb://`` URI of a real MongoDB-wire server (FerretDB or MongoDB) for this test session."""
    uri = os.environ.get("METRICSYNC_MONGO_URI", "").strip()
    if not uri:
        if _server_source() == "docker":
            uri = request.getfixturevalue("docker_mongo")
        else:
            uri = request.getfixturevalue("local_services").mongo_uri
    _check_mongo(uri)
    return uri


# --- per-test helpers ----------------------------------------------------------------------------


@pytest.fixture
def topic_name(request: pytest.FixtureRequest) -> str:
    """A topic name no other test uses (nothing is created)."""
    return unique_name("t", request.node.name, max_len=120)


class TopicFactory(Protocol):
    async def __call__(self, partitions: int = 1, *, name: str | None = None) -> str: ...


async def _wait_for_leaders(admin: AIOKafkaAdminClient, topic: str, partitions: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        described = await admin.describe_topics([topic])
        parts = described[0]["partitions"] if described and described[0]["error_code"] == 0 else []
        if len(parts) == partitions and all(p["leader"] >= 0 for p in parts):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"topic {topic!r}: partitions without a leader after 30s: {described!r}")
        await asyncio.sleep(0.1)


@pytest.fixture
async def create_topic(kafka_bootstrap: str, request: pytest.FixtureRequest) -> AsyncIterator[TopicFactory]:
    """``await create_topic(partitions=3)`` makes a fresh topic (leaders elected); deleted after the test."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap, request_timeout_ms=10000)
    await admin.start()
    created: list[str] = []

    async def factory(partitions: int = 1, *, name: str | None = None) -> str:
        topic = name or unique_name("t", request.node.name, max_len=120)
        response = await admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
        errors = [(t, code) for t, code, *_ in response.topic_errors if code != 0]
        if errors:
            raise RuntimeError(f"create topic {topic!r} failed: {response!r}")
        created.append(topic)
        await _wait_for_leaders(admin, topic, partitions)
        return topic

    try:
        yield factory
    finally:
        try:
            if created:
                await admin.delete_topics(created)
        finally:
            await admin.close()


@pytest.fixture
def mongo_db_name(request: pytest.FixtureRequest) -> str:
    """A database name no other test uses (nothing is created)."""
    return unique_name("t", request.node.name, max_len=60).replace("-", "_")


@pytest.fixture
async def mongo_client(mongo_uri: str) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    """An ``AsyncMongoClient`` bound to this test's event loop, closed afterwards."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongo_uri, serverSelectionTimeoutMS=10000, tz_aware=True
    )
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def mongo_db(
    mongo_client: AsyncMongoClient[dict[str, Any]], mongo_db_name: str
) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """A fresh database for this test, dropped afterwards."""
    try:
        yield mongo_client[mongo_db_name]
    finally:
        await mongo_client.drop_database(mongo_db_name)
