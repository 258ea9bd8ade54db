"""The simulator's PRs and reviews give the demo a lead-time breakdown and at least three findings:
its webhooks mapped as ingest and the normalizer would, applied to an engine in-process."""

from datetime import UTC, datetime, timedelta

import orjson

from ingest.identity import alertmanager_identity, github_identity, jenkins_identity
from metrics_worker.engine import EngineConfig, MetricEngine
from metricsync.settings import Settings
from metricsync.simulation.send import credentials, sign
from metricsync.simulation.team import SimulationPlan, Webhook, plan_webhooks
from normalizer.mapping import map_delivery
from normalizer.rules import MappingRules
from schemas.raw import RawDelivery
from schemas.sources import Source

NOW = datetime(2026, 3, 20, 18, 0, tzinfo=UTC)


def delivery(hook: Webhook) -> RawDelivery:
    payload = orjson.loads(hook.body)
    headers = {k.lower(): v for k, v in sign(hook, credentials(Settings())).items()}
    if hook.path.endswith("/github"):
        source, identity = Source.GITHUB, github_identity(headers, headers["x-github-event"], payload)
    elif hook.path.endswith("/jenkins"):
        source, identity = Source.JENKINS, jenkins_identity(headers, payload, hook.body)
    else:
        source, identity = Source.ALERTMANAGER, alertmanager_identity(payload, hook.body)
    return RawDelivery(
        delivery_id=identity.delivery_id,
        source=source,
        event_type=identity.event_type,
        key=identity.key,
        received_at=hook.at,
        headers=headers,
        body=hook.body,
    )


def demo_engine() -> MetricEngine:
    engine = MetricEngine(EngineConfig())
    rules = MappingRules()
    for hook in plan_webhooks(SimulationPlan(days=30, services=3, seed=7), NOW):
        engine.apply_many(map_delivery(delivery(hook), rules))
    return engine


def test_demo_has_a_breakdown_and_three_findings() -> None:
    engine = demo_engine()
    breakdown, slowest = engine.lead_time(None, "production", NOW - timedelta(days=30), NOW)
    assert breakdown.counts.pull_requests > 20
    assert breakdown.counts.direct_commits > 0
    assert breakdown.counts.bot_pull_requests > 0
    assert all(stage.samples > 10 and stage.median_seconds for stage in breakdown.stages)
    assert slowest
    assert slowest[0].url is not None
    findings = engine.insights(None, "production", NOW - timedelta(days=14), NOW, unknown_service="unknown")
    kinds = {f.kind for f in findings}
    assert len(findings) >= 3, findings
    assert "lead_time_shift" in kinds  # the first service's slow reviews
    drivers = [f for f in findings if f.kind == "lead_time_drivers"]
    assert ("stage", "pickup") in {(f.numbers["dimension"], f.numbers["top"]) for f in drivers}
