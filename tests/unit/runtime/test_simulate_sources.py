"""`metricsync simulate --sources`: a month of mixed traffic across every source goes through the real
ingest app and mappers without a refusal or a dead letter, and the relayed copies of each deployment
count once."""

from collections import Counter
from dataclasses import fields
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest

from ingest.app import create_ingest_app
from metrics_worker.engine import EngineConfig, MetricEngine
from metricsync.settings import Settings
from metricsync.simulation.send import credentials, sign
from metricsync.simulation.sources import parse_sources, planned_webhooks
from metricsync.simulation.team import SimulationPlan, plan_webhooks
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
ALL = frozenset(Source)


def test_parse_sources() -> None:
    assert parse_sources("all") == frozenset(Source)
    assert parse_sources("gitlab, pagerduty") == {Source.GITLAB, Source.PAGERDUTY}
    with pytest.raises(MetricSyncError, match="bitbucket"):
        parse_sources("github,bitbucket")
    with pytest.raises(MetricSyncError, match="github or gitlab"):
        parse_sources("pagerduty")


def test_default_sources_keep_todays_stream() -> None:
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
    creds = credentials(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        for hook in hooks:
            response = await client.post(hook.path, content=hook.body, headers=sign(hook, creds))
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


def test_mixed_deployments_ship_the_head_as_it_was_when_they_started() -> None:
    """GitHub, Jenkins and GitLab deployments of the mixed team: every deployed sha was pushed before the
    deployment started, and a deployment never re-runs the sha the previous successful one shipped."""
    for seed in (1, 7):
        hooks = planned_webhooks(SimulationPlan(days=30, services=6, seed=seed, sources=ALL), NOW)
        pushed: dict[str, datetime] = {}
        last: dict[str, str] = {}
        running: dict[int, datetime] = {}
        seen = Counter[str]()
        for hook in hooks:
            body = orjson.loads(hook.body)
            event = hook.headers.get("X-GitHub-Event") or hook.headers.get("X-Gitlab-Event")
            if event in ("push", "Push Hook"):
                pushed[body["after"]] = hook.at
                continue
            if event == "deployment_status":
                service, sha = body["repository"]["full_name"], body["deployment"]["sha"]
                started = datetime.fromisoformat(body["deployment"]["created_at"])
                ok = body["deployment_status"]["state"] == "success"
            elif event == "Deployment Hook" and body["status"] == "running":
                running[body["deployment_id"]] = hook.at
                continue
            elif event == "Deployment Hook":
                service = body["project"]["path_with_namespace"]
                sha = body["commit_url"].rpartition("/")[2]
                started = running[body["deployment_id"]]
                ok = body["status"] == "success"
            elif hook.source is Source.JENKINS and body["build"]["phase"] == "COMPLETED":
                service, sha = body["build"]["parameters"]["SERVICE"], body["build"]["scm"]["commit"]
                started = datetime.fromtimestamp(body["build"]["timestamp"] / 1000, UTC) - timedelta(
                    milliseconds=body["build"]["duration"]
                )
                ok = body["build"]["status"] == "SUCCESS"
            else:
                continue
            seen[hook.source.value] += 1
            assert pushed[sha] <= started, f"{service} deployed {sha} before it was pushed"
            assert last.get(service) != sha, f"{service} re-ran the deployment of {sha}"
            if ok:
                last[service] = sha
        assert set(seen) == {"github", "jenkins", "gitlab"}


def test_credentials_are_every_ingest_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the simulator signs with is what the server reads from the same environment."""
    from metricsync.simulation.signing import Credentials

    creds = Credentials(**{name: f"s-{name}" for name in SECRETS})
    for name, value in creds.env().items():
        monkeypatch.setenv(name, value)
    assert credentials(Settings()) == creds
    assert set(SECRETS) == {f.name for f in fields(Credentials)}
