"""Shared parts of the ingest tests: an in-memory DeliverySink, fixed secrets and clock, fixture loading."""

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from pydantic import SecretStr

from ingest.app import create_ingest_app
from ingest.config import IngestConfig
from schemas.ports import SinkUnavailable
from schemas.raw import RawDelivery

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
RECEIVED_AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
BASE_URL = "http://ingest.test"

GITHUB_SECRET = "It's a Secret to Everybody"
JENKINS_TOKEN = "jenkins-tok-7Qx9vR2m"
ALERTMANAGER_TOKEN = "am-tok-Zp4Lw8Kd"
DELIVERY_GUID = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
JSON_TYPE = {"content-type": "application/json"}


class MemorySink:
    """DeliverySink double: dedups on delivery_id like the real stores; can be made unavailable."""

    def __init__(self) -> None:
        self.stored: dict[str, RawDelivery] = {}
        self.submitted: list[RawDelivery] = []
        self.payloads: list[dict[str, Any] | None] = []  # what ingest passed as the parsed body
        self.unavailable: SinkUnavailable | None = None
        self.not_ready: str | None = None

    async def submit(self, delivery: RawDelivery, payload: dict[str, Any] | None = None) -> bool:
        if self.unavailable is not None:
            raise self.unavailable
        self.submitted.append(delivery)
        self.payloads.append(payload)
        if delivery.delivery_id in self.stored:
            return False
        self.stored[delivery.delivery_id] = delivery
        return True

    async def check_ready(self) -> str | None:
        return self.not_ready

    def only(self) -> RawDelivery:
        assert len(self.stored) == 1, list(self.stored)
        return next(iter(self.stored.values()))


def fixed_clock() -> datetime:
    return RECEIVED_AT


def make_config(**overrides: Any) -> IngestConfig:
    """All three sources configured, unless overridden."""
    values: dict[str, Any] = {
        "github_secret": SecretStr(GITHUB_SECRET),
        "jenkins_token": SecretStr(JENKINS_TOKEN),
        "alertmanager_token": SecretStr(ALERTMANAGER_TOKEN),
    }
    values.update(overrides)
    return IngestConfig(**values)


def open_client(config: IngestConfig, sink: MemorySink) -> httpx.AsyncClient:
    app = create_ingest_app(config, sink, fixed_clock)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def config() -> IngestConfig:
    return make_config()


@pytest.fixture
async def client(config: IngestConfig, sink: MemorySink) -> AsyncIterator[httpx.AsyncClient]:
    async with open_client(config, sink) as c:
        yield c


# --- payloads and headers ---------------------------------------------------------------------------


def fixture_bytes(source: str, name: str) -> bytes:
    return (FIXTURES / source / name).read_bytes()


def fixture_names(source: str, prefix: str = "") -> list[str]:
    return sorted(p.name for p in (FIXTURES / source).glob(f"{prefix}*.json"))


def gitter_body(name: str) -> bytes:
    """Gitter's Notification Plugin fixtures wrap the request body as {"headers": {}, "body": {...}}."""
    wrapped = orjson.loads(fixture_bytes("jenkins", name))
    return orjson.dumps(wrapped["body"])


def github_event_of(name: str) -> str:
    return name.split("__", 1)[0]


def sign(body: bytes, secret: str = GITHUB_SECRET, algorithm: str = "sha256") -> str:
    return f"{algorithm}=" + hmac.new(secret.encode(), body, getattr(hashlib, algorithm)).hexdigest()


def github_headers(body: bytes, event: str, delivery: str = DELIVERY_GUID, **extra: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": "GitHub-Hookshot/044aadd",
        "x-github-event": event,
        "x-github-delivery": delivery,
        "x-github-hook-id": "292430182",
        "x-hub-signature-256": sign(body),
        **extra,
    }


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def basic(user: str, password: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def jenkins_headers(token: str = JENKINS_TOKEN, **extra: str) -> dict[str, str]:
    return {"content-type": "application/json;charset=UTF-8", **bearer(token), **extra}


def alertmanager_headers(token: str = ALERTMANAGER_TOKEN) -> dict[str, str]:
    return {"content-type": "application/json", "user-agent": "Alertmanager/0.28.1", **bearer(token)}


def notification(
    url: object = "job/folder/job/app/",
    number: object = 42,
    phase: object = "FINALIZED",
    full_url: str | None = "https://ci.example.com/job/folder/job/app/42/",
    **build_extra: object,
) -> dict[str, Any]:
    """A Notification Plugin body in the plugin's snake_case shape."""
    build: dict[str, Any] = {"number": number, "phase": phase, **build_extra}
    if full_url is not None:
        build["full_url"] = full_url
    return {"name": "app", "url": url, "build": build}
