"""A month of mixed traffic from every source (`metricsync simulate --sources all`) gives the same figures
embedded and distributed (real Kafka and FerretDB, every service a real process), and the deployments
relayed by CDEvents and the push API count once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pytest

from metricsync.settings import Settings
from metricsync.simulate import SimulationPlan, planned_webhooks, sign
from normalizer.mapping import map_delivery
from schemas.events import Deployment
from schemas.raw import RawDelivery
from schemas.sources import Source
from tests.support.compare import answers
from tests.support.distributed import Distributed
from tests.support.embedded import Embedded
from tests.support.process import wait_until
from tests.support.webhooks import SECRETS_ENV, Request

pytestmark = [pytest.mark.servers, pytest.mark.timeout(600)]

SIM_NOW = datetime(2026, 3, 20, 18, 0, tzinfo=UTC)
WINDOW = {"from": "2026-02-01T00:00:00Z", "to": "2026-03-21T00:00:00Z"}
SERVICES = ("payments", "checkout", "catalog", "search")
ALL = frozenset(source.value for source in Source)


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


def _settings() -> Settings:
    return Settings.model_validate({name.removeprefix("METRICSYNC_").lower(): v for name, v in SECRETS_ENV.items()})


def test_mixed_sources_same_figures_embedded_and_distributed(distributed: Distributed, embedded: Embedded) -> None:
    settings = _settings()
    hooks = planned_webhooks(SimulationPlan(days=30, services=len(SERVICES), seed=3, sources=ALL), SIM_NOW)
    requests = [Request(h.path, sign(h, settings), h.body) for h in hooks]
    scopes: list[dict[str, str]] = [{}] + [{"service": f"acme/{name}"} for name in SERVICES]
    distributed.start()
    for target in (embedded, distributed):
        with httpx.Client(base_url=target.base, timeout=15) as client:  # one connection: ~600 requests
            for request in requests:
                response = client.post(request.path, content=request.body, headers=request.headers)
                assert response.status_code == 202, f"{request.path}: {response.status_code} {response.text}"
                assert response.json()["status"] == "accepted", request.path
    wait_until("embedded to catch up", embedded.caught_up)
    want = answers(embedded.base, scopes, WINDOW)
    try:
        wait_until(
            "distributed answers to equal embedded ones",
            lambda: answers(distributed.base, scopes, WINDOW) == want,
            timeout=90,
        )
    except AssertionError:
        got = answers(distributed.base, scopes, WINDOW)
        raise AssertionError(f"want {want}\ngot {got}\n{distributed.logs()}") from None
    # the expected count, from the stream itself: every first-hand successful deployment once
    rules = settings.mapping_rules()
    events = []
    for n, hook in enumerate(hooks):
        headers = {k.lower(): v for k, v in sign(hook, settings).items()}
        source = _source_of(hook.path)
        event_type = _event_type(source, headers, hook.body)
        delivery = RawDelivery(
            delivery_id=str(n),
            source=source,
            event_type=event_type,
            key="k",
            received_at=SIM_NOW,
            headers=headers,
            body=hook.body,
        )
        events.extend(map_delivery(delivery, rules))
    first_hand = {
        e.deployment_id
        for e in events
        if isinstance(e, Deployment)
        and e.status == "success"
        and e.source in (Source.GITHUB, Source.JENKINS, Source.GITLAB)
    }
    dora = distributed.get("/api/v1/dora", **WINDOW).json()
    assert dora["deployment_frequency"]["deployments"] == len(first_hand) > 20
    assert dora["time_to_restore"]["incidents"] > 0


def _source_of(path: str) -> Source:
    return Source.PUSH if path.startswith("/api/") else Source(path.rpartition("/")[2])


def _event_type(source: Source, headers: dict[str, str], body: bytes) -> str:
    data = orjson.loads(body)
    match source:
        case Source.GITHUB:
            return headers["x-github-event"]
        case Source.GITLAB:
            return headers["x-gitlab-event"]
        case Source.PAGERDUTY:
            return str(data["event"]["event_type"])
        case Source.OPSGENIE:
            return str(data["action"])
        case Source.CDEVENTS:
            return str(data["context"]["type"])
        case Source.PUSH:
            return "deployment" if "finished_at" in data else "incident"
        case Source.JENKINS:
            return "notification"
        case _:
            return "alert-group"
