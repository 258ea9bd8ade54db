"""The embedded worker loop, in process: the simulator's stream gives no negative lead time; a batch
that fails to apply is rebuilt from the store (nothing lost, never `caught_up` while behind); an
undecodable message is dead-lettered alone."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from metrics_worker.engine import MetricEngine
from metricsync.embedded.pipeline import EmbeddedPipeline
from metricsync.settings import Settings
from metricsync.simulation.send import sign
from metricsync.simulation.team import SimulationPlan, plan_webhooks
from schemas.events import UnifiedEvent, event_to_json
from schemas.topics import EVENTS_TOPIC
from tests.support.asgi import embedded_app
from tests.support.webhooks import ALERTMANAGER_TOKEN, CREDENTIALS, GITHUB_SECRET, JENKINS_TOKEN, Request
from tests.unit.metrics_worker.factories import ZERO, deploy, push

NOW = datetime(2026, 3, 20, 18, 0, tzinfo=UTC)
WINDOW = {"from": "2026-01-01T00:00:00Z", "to": "2026-03-21T00:00:00Z"}


def simulated(seed: int, days: int = 30, services: int = 3) -> list[Request]:
    """What `metricsync simulate --seed SEED` sends (its plan and its signing), as of NOW."""
    hooks = plan_webhooks(SimulationPlan(days=days, services=services, seed=seed), NOW)
    return [Request(h.path, sign(h, CREDENTIALS), h.body) for h in hooks]


@asynccontextmanager
async def embedded(data_dir: Path) -> AsyncIterator[tuple[httpx.AsyncClient, EmbeddedPipeline]]:
    settings = Settings(
        data_dir=data_dir,
        github_secret=SecretStr(GITHUB_SECRET),
        jenkins_token=SecretStr(JENKINS_TOKEN),
        alertmanager_token=SecretStr(ALERTMANAGER_TOKEN),
    )
    async with embedded_app(settings, NOW) as (app, c):
        yield c, app.state.pipeline


async def post_all(client: httpx.AsyncClient, requests: Iterable[Request]) -> None:
    for request in requests:
        response = await client.post(request.path, content=request.body, headers=request.headers)
        assert response.status_code == 202, response.text


async def status(client: httpx.AsyncClient) -> dict[str, Any]:
    body: dict[str, Any] = (await client.get("/api/v1/status")).json()
    return body


async def caught_up(client: httpx.AsyncClient, seconds: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while not (body := await status(client))["caught_up"]:
        assert time.monotonic() < deadline, f"pipeline did not catch up: {body}"
        await asyncio.sleep(0.02)
    return body


async def answers(client: httpx.AsyncClient) -> tuple[Any, ...]:
    return tuple(
        [
            (await client.get(path, params=WINDOW)).json()
            for path in ("/api/v1/dora", "/api/v1/deployments", "/api/v1/incidents")
        ]
    )


async def test_simulate_seed_1_gives_no_negative_lead_time(tmp_path: Path) -> None:
    async with embedded(tmp_path / "data") as (client, _):
        await post_all(client, simulated(seed=1))
        await caught_up(client)
        deployments = (await client.get("/api/v1/deployments", params=WINDOW)).json()["deployments"]
    changes = [change for d in deployments for change in d["changes"]]
    assert len(deployments) > 20
    assert len(changes) > 100
    negative = [change for change in changes if change["lead_time_seconds"] < 0]
    assert negative == []
    # a deployment ships what was pushed before it: no re-run of the previous deployment's sha
    by_service: dict[str, list[dict[str, Any]]] = {}
    for d in sorted(deployments, key=lambda d: d["finished_at"]):
        by_service.setdefault(d["service"], []).append(d)
    for runs in by_service.values():
        for previous, current in itertools.pairwise(runs):
            assert current["rollback"] or previous["rollback"] or current["sha"] != previous["sha"]


async def test_a_failed_batch_is_rebuilt_from_the_store_and_status_is_not_caught_up_meanwhile(
    tmp_path: Path,
) -> None:
    stream = simulated(seed=3, days=20)
    half = len(stream) // 2
    async with embedded(tmp_path / "data") as (client, pipeline):
        await post_all(client, stream[:half])
        await caught_up(client)
        failing = pipeline.engine
        original = failing.apply_many

        def apply_half_then_fail(events: Iterable[UnifiedEvent]) -> frozenset[str]:
            batch = list(events)
            original(batch[: len(batch) // 2])  # the engine is left partly updated, as a real failure may
            raise RuntimeError("injected failure")

        failing.apply_many = apply_half_then_fail  # type: ignore[method-assign]
        pipeline.recovery_pause = 2.0  # the window in which the status must show the failure
        seen: list[dict[str, Any]] = []

        async def watch() -> None:
            while True:
                seen.append(await status(client))
                await asyncio.sleep(0.01)

        watcher = asyncio.create_task(watch())
        try:
            await post_all(client, stream[half:])
            deadline = time.monotonic() + 20
            while not any(body["worker_error"] for body in seen):
                assert time.monotonic() < deadline, f"the injected failure did not show: {seen[-1:]}"
                await asyncio.sleep(0.01)
            recovered = await caught_up(client)
        finally:
            watcher.cancel()
        failed = [body for body in seen if body["worker_error"] is not None]
        assert failed[0]["worker_error"] == "RuntimeError: injected failure"
        assert all(body["caught_up"] is False for body in failed)
        assert recovered["worker_error"] is None
        assert pipeline.engine is not failing
        after_failure = await answers(client)
    async with embedded(tmp_path / "data") as (client, _):  # a restart loads every stored event
        await caught_up(client)
        assert await answers(client) == after_failure
    async with embedded(tmp_path / "clean") as (client, _):  # and the same stream without a failure
        await post_all(client, stream)
        await caught_up(client)
        assert await answers(client) == after_failure


async def test_an_undecodable_message_is_dead_lettered_alone(tmp_path: Path) -> None:
    events: list[UnifiedEvent] = [
        *push("p1", ZERO, [("c1", 1)], service="dl-svc"),
        deploy("d1", "c1", 2, service="dl-svc"),
    ]
    async with embedded(tmp_path / "data") as (client, pipeline):
        await caught_up(client)
        # one batch: the worker task runs only once this test awaits
        pipeline.bus.publish_nowait(EVENTS_TOPIC, b"dl-svc", event_to_json(events[0]))
        pipeline.bus.publish_nowait(EVENTS_TOPIC, b"dl-svc", b'{"kind": "change", "truncated')
        pipeline.bus.publish_nowait(EVENTS_TOPIC, b"dl-svc", event_to_json(events[1]))
        body = await caught_up(client)
        assert body["worker_dead_letters"] == 1
        assert body["worker_error"] is None
        engine: MetricEngine = pipeline.engine
        report = engine.report(["dl-svc"], "production", NOW - timedelta(days=400), NOW)
    assert report.deployment_frequency.deployments == 1
    assert report.lead_time.changes == 1
