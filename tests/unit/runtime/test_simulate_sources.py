"""`metricsync simulate --sources`: a month of mixed traffic across every source goes through the real
ingest app and mappers without a refusal or a dead letter, and the relayed copies of each deployment
count once."""

from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from ingest.app import create_ingest_app
from metrics_worker.engine import EngineConfig, MetricEngine
from metricsync.settings import Settings
from metricsync.simulate import SimulationPlan, planned_webhooks, sign
from metricsync.simulate_sources import parse_sources
from metricsync.sources import all_senders
from normalizer.mapping import map_delivery
from schemas.errors import MetricSyncError
from schemas.events import Deployment
from schemas.sources import Source
from tests.unit.ingest.conftest import MemorySink

NOW = datetime(2026, 3, 20, 18, 0, tzinfo=UTC)
SECRETS = {
    "github_secret": "g",
    "jenkins_token": "j",
    "alertmanager_token": "a",
    "gitlab_token": "gl",
    "pagerduty_secret": "pd",
    "opsgenie_token": "og",
    "cdevents_token": "cd",
    "push_token": "p",
}
ALL = frozenset(source.value for source in Source)


def test_parse_sources() -> None:
    assert parse_sources("all") == frozenset(Source)
    assert parse_sources("gitlab, pagerduty") == {Source.GITLAB, Source.PAGERDUTY}
    with pytest.raises(MetricSyncError, match="bitbucket"):
        parse_sources("github,bitbucket")
    with pytest.raises(MetricSyncError, match="github or gitlab"):
        parse_sources("pagerduty")


def test_default_sources_keep_todays_stream() -> None:
    from metricsync.simulate import plan_webhooks

    plan = SimulationPlan(days=10, services=3, seed=5)
    assert [h.body for h in planned_webhooks(plan, NOW)] == [h.body for h in plan_webhooks(plan, NOW)]


def test_mixed_plan_is_deterministic_and_covers_every_source() -> None:
    plan = SimulationPlan(days=30, services=4, seed=7, sources=ALL)
    hooks = planned_webhooks(plan, NOW)
    assert [h.body for h in hooks] == [h.body for h in planned_webhooks(plan, NOW)]
    assert [h.at for h in hooks] == sorted(h.at for h in hooks)
    paths = Counter(h.path for h in hooks)
    assert set(paths) == {
        "/webhooks/github",
        "/webhooks/jenkins",
        "/webhooks/alertmanager",
        "/webhooks/gitlab",
        "/webhooks/pagerduty",
        "/webhooks/opsgenie",
        "/webhooks/cdevents",
        "/api/v1/deployments",
        "/api/v1/incidents",
    }


async def test_a_month_of_mixed_traffic_is_accepted_mapped_and_deduplicated() -> None:
    settings = Settings.model_validate(SECRETS)
    sink = MemorySink()
    app = create_ingest_app(settings.ingest, sink, lambda: NOW, all_senders(settings.ingest))
    hooks = planned_webhooks(SimulationPlan(days=30, services=4, seed=7, sources=ALL), NOW)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        for hook in hooks:
            response = await client.post(hook.path, content=hook.body, headers=sign(hook, settings))
            assert response.status_code == 202, (hook.path, response.text)
            assert response.json()["status"] == "accepted", (hook.path, hook.body[:200])
    rules = settings.mapping_rules()
    events = [event for delivery in sink.stored.values() for event in map_delivery(delivery, rules)]
    engine = MetricEngine(EngineConfig(attribution_window=timedelta(hours=72)))
    engine.apply_many(events)
    first_hand = {
        e.deployment_id
        for e in events
        if isinstance(e, Deployment)
        and e.status == "success"
        and e.source in (Source.GITHUB, Source.JENKINS, Source.GITLAB)
    }
    relayed = {
        e.deployment_id for e in events if isinstance(e, Deployment) and e.source in (Source.CDEVENTS, Source.PUSH)
    }
    assert relayed  # the relays did report
    counted = {v.deployment_id for v in engine.deployments(None, "production", NOW - timedelta(days=40), NOW)}
    # Jenkins rollback jobs are not generated in mixed mode; every counted deployment is a first-hand one
    assert counted == first_hand
    report = engine.report(None, "production", NOW - timedelta(days=40), NOW)
    assert report.deployment_frequency.deployments == len(first_hand)
    assert report.time_to_restore.incidents > 0
