"""The demo's webhooks (`metricsync simulate`'s plan: PRs, reviews, pushes, deployments, alerts), signed
with the test secrets."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import SecretStr

from metricsync.settings import Settings
from metricsync.simulation.send import credentials
from metricsync.simulation.team import SimulationPlan, plan_webhooks
from tests.support.webhooks import ALERTMANAGER_TOKEN, GITHUB_SECRET, JENKINS_TOKEN, Request, signed

NOW = datetime(2026, 3, 20, 18, 0, tzinfo=UTC)
RECENT = {"from": "2026-03-06T18:00:00Z", "to": "2026-03-20T18:00:00Z"}  # the last 14 days before NOW


def demo_requests(now: datetime = NOW, days: int = 30, services: int = 3) -> list[Request]:
    settings = Settings(
        github_secret=SecretStr(GITHUB_SECRET),
        jenkins_token=SecretStr(JENKINS_TOKEN),
        alertmanager_token=SecretStr(ALERTMANAGER_TOKEN),
    )
    hooks = plan_webhooks(SimulationPlan(days=days, services=services, seed=7), now)
    return signed(hooks, credentials(settings))
