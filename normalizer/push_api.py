"""The generic push API (`POST /api/v1/deployments|incidents`) -> unified events; MetricSync's shape
and Apache DevLake's (`schemas.push_api`).

    deployment (MetricSync)  -> Deployment "push:<id>", plus one ChangePushed per listed change
    deployment (DevLake)     -> one Deployment "push:devlake:<id>:<repo>" per deploymentCommits entry
                                (DevLake relates each commit's repo to the deployment)
    incident (MetricSync)    -> IncidentOpened (+ IncidentResolved with resolved_at)
    incident (DevLake issue) -> type INCIDENT only: IncidentOpened (+ IncidentResolved when status DONE)

A deployment's `changes` (oldest first) form one push whose head is the deployed sha: lead time then
runs from each change's `committed_at` to the deployment's finish, as for a pushed commit. The body
was validated by ingest; it is validated again here with the same models (a stored body from an older
version that no longer passes is a dead letter naming the field).
"""

from typing import Any

from pydantic import ValidationError

from normalizer.envelope import envelope
from normalizer.incidents import IncidentFacts, incident_events
from normalizer.payload import Parsed, fail_delivery, load_object
from normalizer.rules import MappingRules
from normalizer.scm import repo_from_git_url
from schemas.events import ChangePushed, Deployment, DeploymentStatus, UnifiedEvent
from schemas.ids import stable_id
from schemas.push_api import (
    DEPLOYMENT,
    INCIDENT,
    SERVICE_HEADER,
    DeploymentReport,
    DevLakeDeployment,
    DevLakeIssue,
    IncidentReport,
    devlake_environment,
    parse_deployment,
    parse_incident,
)
from schemas.raw import RawDelivery

_DEVLAKE_RESULTS = {
    "": DeploymentStatus.SUCCESS,  # DevLake's default result
    "SUCCESS": DeploymentStatus.SUCCESS,
    "FAILURE": DeploymentStatus.FAILURE,
    "ABORT": DeploymentStatus.ERROR,
    "MANUAL": DeploymentStatus.ERROR,  # waiting for a manual step: not a deployment that happened
}


def map_push(delivery: RawDelivery, rules: MappingRules, parsed: Parsed = None) -> list[UnifiedEvent]:
    payload = load_object(delivery, parsed).data
    if delivery.event_type == DEPLOYMENT:
        report = _validated(delivery, payload, parse_deployment)
        if isinstance(report, DeploymentReport):
            return _deployment(report, delivery, rules)
        return _devlake_deployment(report, delivery, rules)
    if delivery.event_type == INCIDENT:
        incident = _validated(delivery, payload, parse_incident)
        if isinstance(incident, IncidentReport):
            return _incident(incident, delivery, rules)
        return _devlake_issue(incident, delivery, rules)
    return []


def _validated(delivery: RawDelivery, payload: dict[str, Any], parse: Any) -> Any:
    try:
        return parse(payload)
    except ValidationError as e:
        first = e.errors()[0]
        fail_delivery(delivery, ".".join(str(part) for part in first["loc"]) or None, first["msg"])


def _deployment(report: DeploymentReport, delivery: RawDelivery, rules: MappingRules) -> list[UnifiedEvent]:
    deployment_id = f"push:{report.id}"
    service = rules.service(report.service)
    terminal = report.status.value != "in_progress"
    at = report.finished_at or report.started_at or delivery.received_at
    sha = (report.sha or (report.changes[-1].sha if report.changes else None) or "").lower() or None
    events: list[UnifiedEvent] = [
        Deployment(
            **envelope(
                delivery,
                event_id=stable_id("deployment", deployment_id, report.status.value),
                service=service,
                event_time=at,
            ),
            deployment_id=deployment_id,
            environment=report.environment,
            production=rules.is_production(report.environment),
            sha=sha,
            status=DeploymentStatus(report.status.value),
            started_at=report.started_at,
            finished_at=report.finished_at if terminal else None,
            rollback=report.rollback,
            url=report.url,
        )
    ]
    if report.changes and sha is not None:
        push_id = stable_id("push", "push-api", report.id)
        repo = (report.repo or report.service).lower()
        for position, change in enumerate(report.changes):
            change_sha = change.sha.lower()
            events.append(
                ChangePushed(
                    **envelope(
                        delivery,
                        event_id=stable_id("change", push_id, change_sha),
                        service=service,
                        event_time=change.committed_at,
                    ),
                    repo=repo,
                    branch="",
                    sha=change_sha,
                    commit_time=change.committed_at,
                    push_id=push_id,
                    push_before="",
                    push_after=sha,
                    position=position,
                )
            )
    return events


def _devlake_deployment(report: DevLakeDeployment, delivery: RawDelivery, rules: MappingRules) -> list[UnifiedEvent]:
    environment = devlake_environment(report.environment)
    status = _DEVLAKE_RESULTS[report.result]
    events: list[UnifiedEvent] = []
    for commit in report.deploymentCommits:
        repo = repo_from_git_url(commit.repoUrl) or commit.repoUrl
        deployment_id = f"push:devlake:{report.id}:{repo.lower()}"
        finished_at = commit.finishedDate or report.finishedDate
        events.append(
            Deployment(
                **envelope(
                    delivery,
                    event_id=stable_id("deployment", deployment_id, status.value),
                    service=rules.service(repo),
                    event_time=finished_at,
                ),
                deployment_id=deployment_id,
                environment=environment,
                production=rules.is_production(environment),
                sha=commit.commitSha.lower(),
                status=status,
                started_at=commit.startedDate or report.startedDate,
                finished_at=finished_at,
                url=report.url,
            )
        )
    return events


def _incident(report: IncidentReport, delivery: RawDelivery, rules: MappingRules) -> list[UnifiedEvent]:
    facts = IncidentFacts(
        incident_id=f"push:{report.id}",
        environment=report.environment,
        production=rules.is_production(report.environment),
        severity=report.severity,
        started_at=report.started_at,
        cause_deployment_id=report.cause_deployment_id,
        cause_sha=report.cause_sha.lower() if report.cause_sha else None,
        title=report.title,
        url=report.url,
    )
    return incident_events(delivery, service=rules.service(report.service), facts=facts, resolved_at=report.resolved_at)


def _devlake_issue(issue: DevLakeIssue, delivery: RawDelivery, rules: MappingRules) -> list[UnifiedEvent]:
    if issue.type.strip().upper() != "INCIDENT":
        return []  # DevLake issues are also bugs and requirements
    service = delivery.headers.get(SERVICE_HEADER, "").strip()
    if not service:
        fail_delivery(delivery, None, f"a DevLake issue needs the {SERVICE_HEADER} header naming its service")
    resolved_at = None
    if issue.status == "DONE":
        resolved_at = issue.resolutionDate or delivery.received_at
    facts = IncidentFacts(
        incident_id=f"push:devlake:{issue.issueKey}",
        environment="production",
        production=True,
        severity=issue.priority,
        started_at=issue.createdDate,
        cause_deployment_id=None,
        cause_sha=None,
        title=issue.title,
        url=issue.url,
    )
    return incident_events(delivery, service=rules.service(service), facts=facts, resolved_at=resolved_at)
