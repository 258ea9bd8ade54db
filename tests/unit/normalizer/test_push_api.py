"""The push API mapper: MetricSync's own shape (documented in docs/events.md) and Apache DevLake's
incoming-webhook shape (field names from DevLake's `backend/plugins/webhook/api/deployments.go` and
`issues.go`; no captured DevLake request exists in tests/fixtures, so these bodies are written from
that published request struct)."""

import pytest

from normalizer.errors import UnmappableDelivery
from schemas.events import ChangePushed, Deployment, DeploymentStatus, IncidentOpened, IncidentResolved
from schemas.ids import stable_id
from tests.unit.normalizer.factories import of_kind, push, run, single, utc

SHA = "015e3d3b480e417aede5a1293bd61de9b0fd051d"
PARENT = "9f2c1a7b3d4e5f60718293a4b5c6d7e8f9012345"


def test_deployment_with_changes() -> None:
    body = {
        "id": "build-42",
        "service": "Payments",
        "environment": "production",
        "started_at": "2026-01-05T10:00:00Z",
        "finished_at": "2026-01-05T10:06:00+01:00",
        "sha": SHA,
        "changes": [
            {"sha": PARENT, "committed_at": "2026-01-05T07:00:00Z"},
            {"sha": SHA, "committed_at": "2026-01-05T08:30:00Z"},
        ],
    }
    events = run(push("deployment", body))
    deployment = single(of_kind(events, Deployment), Deployment)
    assert deployment.deployment_id == "push:build-42"
    assert deployment.id == stable_id("deployment", "push:build-42", "success")
    assert (deployment.service, deployment.sha, deployment.status) == ("payments", SHA, DeploymentStatus.SUCCESS)
    assert deployment.finished_at == utc("2026-01-05T09:06:00Z")
    changes = of_kind(events, ChangePushed)
    assert [(c.sha, c.position, c.push_after) for c in changes] == [(PARENT, 0, SHA), (SHA, 1, SHA)]
    assert changes[0].commit_time == utc("2026-01-05T07:00:00Z")


def test_deployment_in_progress_then_failed_is_one_deployment() -> None:
    base = {"id": "d1", "service": "api", "environment": "staging", "sha": SHA}
    started = single(run(push("deployment", {**base, "status": "in_progress"})), Deployment)
    failed = single(
        run(push("deployment", {**base, "status": "failure", "finished_at": "2026-01-05T10:00:00Z"})), Deployment
    )
    assert started.deployment_id == failed.deployment_id
    assert started.id != failed.id
    assert (started.finished_at, failed.status, failed.production) == (None, DeploymentStatus.FAILURE, False)


def test_incident_open_and_resolve() -> None:
    body = {"id": "INC-7", "service": "api", "started_at": "2026-01-05T10:00:00Z", "cause_sha": SHA.upper()}
    opened = single(run(push("incident", body)), IncidentOpened)
    assert (opened.incident_id, opened.environment, opened.cause_sha) == ("push:INC-7", "production", SHA)
    events = run(push("incident", {**body, "resolved_at": "2026-01-05T10:45:00Z"}))
    assert [type(e) for e in events] == [IncidentOpened, IncidentResolved]
    assert events[0].id == opened.id


def test_devlake_deployment_one_per_commit_repo() -> None:
    body = {
        "id": "pipeline-9",
        "startedDate": "2026-01-05T10:00:00+00:00",
        "finishedDate": "2026-01-05T10:20:00+00:00",
        "result": "SUCCESS",
        "deploymentCommits": [
            {"repoUrl": "https://github.com/acme/payments.git", "commitSha": SHA},
            {"repoUrl": "git@github.com:acme/ledger.git", "commitSha": PARENT, "finishedDate": "2026-01-05T10:25:00Z"},
        ],
    }
    events = of_kind(run(push("deployment", body)), Deployment)
    assert [(e.deployment_id, e.service, e.sha) for e in events] == [
        ("push:devlake:pipeline-9:acme/payments", "acme/payments", SHA),
        ("push:devlake:pipeline-9:acme/ledger", "acme/ledger", PARENT),
    ]
    assert [e.finished_at for e in events] == [utc("2026-01-05T10:20:00Z"), utc("2026-01-05T10:25:00Z")]
    assert all(e.environment == "production" and e.production for e in events)  # DevLake's default


@pytest.mark.parametrize(("result", "status"), [("FAILURE", "failure"), ("ABORT", "error"), ("MANUAL", "error")])
def test_devlake_results(result: str, status: str) -> None:
    body = {
        "id": "p",
        "result": result,
        "environment": "STAGING",
        "startedDate": "2026-01-05T10:00:00Z",
        "finishedDate": "2026-01-05T10:20:00Z",
        "deploymentCommits": [{"repoUrl": "https://github.com/acme/payments", "commitSha": SHA}],
    }
    deployment = single(run(push("deployment", body)), Deployment)
    assert (deployment.status.value, deployment.environment) == (status, "staging")


def test_devlake_incident_issue() -> None:
    body = {
        "issueKey": "OPS-1",
        "title": "checkout down",
        "type": "INCIDENT",
        "status": "DONE",
        "originalStatus": "closed",
        "createdDate": "2026-01-05T10:00:00Z",
        "resolutionDate": "2026-01-05T11:00:00Z",
    }
    events = run(push("incident", body, headers={"x-metricsync-service": "checkout"}))
    resolved = single(of_kind(events, IncidentResolved), IncidentResolved)
    assert (resolved.incident_id, resolved.service) == ("push:devlake:OPS-1", "checkout")
    assert resolved.resolved_at == utc("2026-01-05T11:00:00Z")
    assert run(push("incident", {**body, "type": "BUG"}, headers={"x-metricsync-service": "checkout"})) == []


def test_stored_body_that_no_longer_validates_dead_letters_naming_the_field() -> None:
    with pytest.raises(UnmappableDelivery) as e:
        run(push("deployment", {"id": "x", "service": "a", "environment": "prod", "finished_at": "soon"}))
    assert e.value.field == "finished_at"
