"""The simulator: deterministic, realistic streams built from the real payload templates."""

from collections import Counter
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from metricsync.settings import Settings
from metricsync.simulation.send import credentials, sign
from metricsync.simulation.signing import Credentials
from metricsync.simulation.team import Repository, SimulationPlan, plan_webhooks, service_names
from schemas.errors import MetricSyncError

NOW = datetime(2026, 3, 20, 18, 0, tzinfo=UTC)


def test_same_plan_same_webhooks() -> None:
    first = plan_webhooks(SimulationPlan(days=10, services=3, seed=5), NOW)
    again = plan_webhooks(SimulationPlan(days=10, services=3, seed=5), NOW)
    other = plan_webhooks(SimulationPlan(days=10, services=3, seed=6), NOW)
    assert [h.body for h in first] == [h.body for h in again]
    assert [h.body for h in first] != [h.body for h in other]


def test_stream_is_time_ordered_and_covers_every_source() -> None:
    hooks = plan_webhooks(SimulationPlan(days=30, services=4, seed=7), NOW)
    assert [h.at for h in hooks] == sorted(h.at for h in hooks)
    assert all(h.at < NOW for h in hooks)
    paths = Counter(h.path for h in hooks)
    assert set(paths) == {"/webhooks/github", "/webhooks/jenkins", "/webhooks/alertmanager"}
    repos = {
        orjson.loads(h.body)["repository"]["full_name"] for h in hooks if h.headers.get("X-GitHub-Event") == "push"
    }
    assert repos == {"acme/payments", "acme/checkout", "acme/catalog", "acme/search"}


def test_pushes_chain_before_to_after_per_repository() -> None:
    hooks = plan_webhooks(SimulationPlan(days=5, services=2, seed=1), NOW)
    heads: dict[str, str] = {}  # main's head per repository (feature branches are new branches)
    for hook in hooks:
        if hook.headers.get("X-GitHub-Event") != "push":
            continue
        body = orjson.loads(hook.body)
        repo = body["repository"]["full_name"]
        assert body["after"] == body["commits"][-1]["id"]
        if body["ref"] != "refs/heads/main":
            assert body["before"] == "0" * 40
            continue
        assert body["before"] == heads.get(repo, "0" * 40)
        heads[repo] = body["after"]


def test_signing_uses_the_configured_secrets() -> None:
    hook = plan_webhooks(SimulationPlan(days=2, services=1, seed=1), NOW)[0]
    signed = sign(hook, credentials(Settings(github_secret="s")))
    assert signed["X-Hub-Signature-256"].startswith("sha256=")
    assert "X-Hub-Signature-256" not in sign(hook, Credentials())


def test_many_services_get_distinct_names() -> None:
    names = service_names(600)
    assert len(set(names)) == 600
    assert names[:2] == ["payments", "checkout"]


@pytest.mark.parametrize("plan", [SimulationPlan(services=0), SimulationPlan(services=5000), SimulationPlan(days=0)])
def test_bad_plans_are_refused(plan: SimulationPlan) -> None:
    with pytest.raises(MetricSyncError):
        plan_webhooks(plan, NOW)


def test_a_deployment_ships_the_head_as_it_was_when_it_started() -> None:
    """Per service: every deployed sha was pushed before the deployment started, and a deployment
    never re-runs the sha the previous successful one shipped (seed 1 deployed later pushes and
    re-ran shas before the fix)."""
    for seed in (1, 7):
        hooks = plan_webhooks(SimulationPlan(days=30, services=4, seed=seed), NOW)
        pushed: dict[str, datetime] = {}
        last: dict[str, str] = {}
        deployments = 0
        for hook in hooks:
            body = orjson.loads(hook.body)
            event = hook.headers.get("X-GitHub-Event")
            if event == "push":
                pushed[body["after"]] = hook.at
                continue
            if event == "deployment_status":
                service, sha = body["repository"]["full_name"], body["deployment"]["sha"]
                started = datetime.fromisoformat(body["deployment"]["created_at"])
                ok = body["deployment_status"]["state"] == "success"
            elif hook.source == "jenkins" and body["build"]["phase"] == "COMPLETED":
                service, sha = body["build"]["parameters"]["SERVICE"], body["build"]["scm"]["commit"]
                started = datetime.fromtimestamp(body["build"]["timestamp"] / 1000, UTC) - timedelta(
                    milliseconds=body["build"]["duration"]
                )
                ok = body["build"]["status"] == "SUCCESS"
                if "rollback" in body["name"]:
                    last[service] = sha
                    continue
            else:
                continue
            deployments += 1
            assert pushed[sha] <= started, f"{service} deployed {sha} before it was pushed"
            assert last.get(service) != sha, f"{service} re-ran the deployment of {sha}"
            if ok:
                last[service] = sha
        assert deployments > 20


def test_repository_head_at_a_moment() -> None:
    repo = Repository("acme/x")
    repo.pushed(datetime(2026, 3, 2, 9, tzinfo=UTC), "a")
    repo.pushed(datetime(2026, 3, 2, 15, tzinfo=UTC), "b")
    assert repo.head_at(datetime(2026, 3, 2, 8, tzinfo=UTC)) is None
    assert repo.head_at(datetime(2026, 3, 2, 13, 4, tzinfo=UTC)) == "a"
    assert repo.head_at(datetime(2026, 3, 2, 15, tzinfo=UTC)) == "b"
    assert repo.head == "b"
