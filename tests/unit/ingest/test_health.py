"""GET /healthz and /readyz: liveness, sink readiness, and how each source is verified."""

import asyncio
from typing import Any

import httpx
import pytest

from ingest import health
from ingest.config import IngestConfig
from tests.unit.ingest.conftest import MemorySink, make_config, open_client

ALL_ON = {"github": "hmac-sha256", "jenkins": "token", "alertmanager": "token"}


async def test_healthz(client: httpx.AsyncClient, sink: MemorySink) -> None:
    sink.not_ready = "store down"  # liveness does not depend on the sink

    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "verification": ALL_ON}


async def test_readyz_when_the_sink_is_ready(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "verification": ALL_ON}


async def test_readyz_when_the_sink_is_not_ready(client: httpx.AsyncClient, sink: MemorySink) -> None:
    sink.not_ready = "SQLite store is not open"

    response = await client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "reason": "SQLite store is not open", "verification": ALL_ON}


class BrokenSink(MemorySink):
    async def check_ready(self) -> str | None:
        raise ConnectionError("refused")


class HangingSink(MemorySink):
    async def check_ready(self) -> str | None:
        await asyncio.sleep(3600)
        return None


@pytest.mark.parametrize(
    ("sink_type", "reason_part"),
    [
        pytest.param(BrokenSink, "ConnectionError", id="raises"),
        pytest.param(HangingSink, "did not answer", id="hangs"),
    ],
)
async def test_readyz_never_fails_with_the_sink(
    monkeypatch: pytest.MonkeyPatch, sink_type: type[MemorySink], reason_part: str
) -> None:
    monkeypatch.setattr(health, "READY_TIMEOUT_SECONDS", 0.01)

    async with open_client(make_config(), sink_type()) as client:
        response = await client.get("/readyz")

    assert response.status_code == 503
    assert reason_part in response.json()["reason"]


@pytest.mark.parametrize(
    ("config", "verification"),
    [
        pytest.param(make_config(), ALL_ON, id="all-configured"),
        pytest.param(make_config(github_allow_sha1=True), {**ALL_ON, "github": "hmac-sha256+sha1"}, id="sha1-allowed"),
        pytest.param(
            IngestConfig(),
            {"github": "unconfigured", "jenkins": "unconfigured", "alertmanager": "unconfigured"},
            id="nothing-configured",
        ),
        pytest.param(
            IngestConfig(allow_unsigned=True),
            {"github": "off", "jenkins": "off", "alertmanager": "off"},
            id="allow-unsigned",
        ),
        pytest.param(
            make_config(jenkins_token=None, allow_unsigned=True), {**ALL_ON, "jenkins": "off"}, id="one-source-off"
        ),
    ],
)
async def test_probes_say_how_each_source_is_verified(
    sink: MemorySink, config: IngestConfig, verification: dict[str, Any]
) -> None:
    async with open_client(config, sink) as client:
        for path in ("/healthz", "/readyz"):
            response = await client.get(path)
            assert response.json()["verification"] == verification


async def test_probes_answer_head(client: httpx.AsyncClient) -> None:
    response = await client.head("/healthz")

    assert response.status_code == 200
