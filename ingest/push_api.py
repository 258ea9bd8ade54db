"""The generic push API: `POST /api/v1/deployments` and `POST /api/v1/incidents` with a bearer token,
for tools with no webhooks of their own (a `curl` line in a CI script). Bodies are MetricSync's
shape or Apache DevLake's incoming-webhook shape (`schemas.push_api`), validated here: a 400 names
the field. Idempotent on the caller's id: the delivery id digests the kind, the caller's id and the
state reported (a deployment's status, an incident's open/resolved), so resending a report changes
nothing while a later report of the same deployment or incident (it finished, it was resolved) is
new. Ordering key: the service (DevLake deployments: the first commit's repo URL)."""

from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr, ValidationError

from ingest.auth import Verifier, bearer_or_basic, secret_verifier
from ingest.errors import BadRequest
from ingest.identity import Identity, optional_header
from ingest.sender import Identify, Sender
from schemas.ids import stable_id
from schemas.push_api import (
    DEPLOYMENT,
    INCIDENT,
    SERVICE_HEADER,
    DeploymentReport,
    DevLakeIssue,
    IncidentReport,
    parse_deployment,
    parse_incident,
)
from schemas.sources import Source

TOKEN_VAR = "METRICSYNC_PUSH_TOKEN"
DEPLOYMENTS_PATH = "/api/v1/deployments"
INCIDENTS_PATH = "/api/v1/incidents"
_MAX_ERRORS = 5


def _invalid(kind: str, error: ValidationError) -> BadRequest:
    problems = []
    for err in error.errors()[:_MAX_ERRORS]:
        field = ".".join(str(part) for part in err["loc"]) or "body"
        problems.append(f"{field}: {err['msg']}")
    more = f" (and {error.error_count() - _MAX_ERRORS} more)" if error.error_count() > _MAX_ERRORS else ""
    return BadRequest(
        "invalid_field",
        f"The {kind} report is invalid: {'; '.join(problems)}{more}. See docs/events.md, 'Push API'.",
    )


def deployment_identity(headers: Mapping[str, str], payload: Any, body: bytes) -> Identity:
    try:
        report = parse_deployment(payload)
    except ValidationError as e:
        raise _invalid(DEPLOYMENT, e) from e
    if isinstance(report, DeploymentReport):
        state, key = report.status.value, report.service.lower()
    else:
        state, key = report.result or "SUCCESS", report.deploymentCommits[0].repoUrl.lower()
    return Identity(f"push:{stable_id(DEPLOYMENT, report.id, state)}", DEPLOYMENT, key, True)


def incident_identity(headers: Mapping[str, str], payload: Any, body: bytes) -> Identity:
    try:
        report = parse_incident(payload)
    except ValidationError as e:
        raise _invalid(INCIDENT, e) from e
    if isinstance(report, IncidentReport):
        incident_id, resolved, service = report.id, report.resolved_at is not None, report.service
    else:
        service = _devlake_service(headers, report)
        incident_id, resolved = report.issueKey, report.status == "DONE" or report.resolutionDate is not None
    state = "resolved" if resolved else "open"
    return Identity(f"push:{stable_id(INCIDENT, incident_id, state)}", INCIDENT, service.lower(), True)


def _devlake_service(headers: Mapping[str, str], report: DevLakeIssue) -> str:
    fix = "add the header X-MetricSync-Service: <service> to the DevLake issue request"
    service = optional_header(headers, SERVICE_HEADER, fix)
    if service is None:
        raise BadRequest("missing_header", f"A DevLake issue names no service; {fix}.")
    return service


def push_verifier(token: SecretStr | None, *, allow_unsigned: bool) -> Verifier:
    return secret_verifier(
        token,
        allow_unsigned=allow_unsigned,
        sender="the push API",
        variable=TOKEN_VAR,
        make=lambda secret: bearer_or_basic(secret, sender="push API", variable=TOKEN_VAR),
    )


def push_senders(token: SecretStr | None, *, allow_unsigned: bool) -> list[Sender]:
    verifier = push_verifier(token, allow_unsigned=allow_unsigned)
    routes: tuple[tuple[str, str, Identify], ...] = (
        (DEPLOYMENTS_PATH, "push_deployments", deployment_identity),
        (INCIDENTS_PATH, "push_incidents", incident_identity),
    )
    return [Sender(Source.PUSH, path, verifier, identify, name=name) for path, name, identify in routes]
