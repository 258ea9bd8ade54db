"""The generic push API's request bodies (`POST /api/v1/deployments`, `POST /api/v1/incidents`).

Two shapes per endpoint: MetricSync's own (snake_case, below) and Apache DevLake's incoming-webhook
shape (camelCase: `deploymentCommits`, `startedDate`, `issueKey`...), so CI scripts written for
DevLake keep working. `parse_deployment` / `parse_incident` tell them apart by their required keys
and validate; a `ValidationError` names the field. Ingest validates every request (a 400 naming the
field); the normalizer validates the stored body again with the same models, so both agree.
"""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

_ID = Field(min_length=1, max_length=200)
_NAME = Field(min_length=1, max_length=200)
_SHA = Field(pattern=r"^[0-9a-fA-F]{7,64}$")


def _time_text(value: Any) -> Any:
    """A time is ISO 8601 text with an offset, as the published schema says (`format: date-time`) and as
    DevLake sends it: a number, which pydantic would read as a Unix time, is refused."""
    if isinstance(value, str | datetime):
        return value
    raise ValueError("expected an ISO 8601 date-time string with an offset, e.g. 2026-01-05T10:00:00Z")


Time = Annotated[AwareDatetime, BeforeValidator(_time_text)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class _Lenient(BaseModel):
    # DevLake's shapes have many optional fields we do not use: accepted and ignored
    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)


class ApiStatus(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    ERROR = "error"
    IN_PROGRESS = "in_progress"


class ApiChange(_Strict):
    """One commit the deployment shipped, oldest first; `committed_at` gives its lead time."""

    sha: str = _SHA
    committed_at: Time


class DeploymentReport(_Strict):
    """MetricSync's deployment report: one deployment of a service to an environment, with the commit it
    shipped (`sha`) and, optionally, the commits it shipped first (`changes`, for lead time without
    push webhooks). `finished_at` is required unless `status` is `in_progress`."""

    id: str = _ID  # the caller's id: resending the same id and status changes nothing
    service: str = _NAME
    environment: str = _NAME
    status: ApiStatus = ApiStatus.SUCCESS
    started_at: Time | None = None
    finished_at: Time | None = None  # required unless status is in_progress
    sha: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{7,64}$")
    repo: str | None = Field(default=None, max_length=300)
    changes: list[ApiChange] = Field(default_factory=list, max_length=10_000)
    rollback: bool = False
    url: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _finished(self) -> "DeploymentReport":
        if self.status is not ApiStatus.IN_PROGRESS and self.finished_at is None:
            raise ValueError("finished_at is required unless status is in_progress")
        return self


class IncidentReport(_Strict):
    """MetricSync's incident report: opened (`started_at`), and resolved when `resolved_at` is given (a
    later report with the same `id`); `cause_sha` or `cause_deployment_id` names the failed deployment."""

    id: str = _ID  # the caller's id: an open and a later resolve of one incident share it
    service: str = _NAME
    environment: str = "production"
    started_at: Time
    resolved_at: Time | None = None
    severity: str | None = Field(default=None, max_length=100)
    title: str | None = Field(default=None, max_length=1000)
    url: str | None = Field(default=None, max_length=2000)
    cause_sha: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{7,64}$")
    cause_deployment_id: str | None = Field(default=None, max_length=300)

    @model_validator(mode="after")
    def _order(self) -> "IncidentReport":
        if self.resolved_at is not None and self.resolved_at < self.started_at:
            raise ValueError("resolved_at is before started_at")
        return self


# --- Apache DevLake's incoming webhook shapes ----------------------------------------------------------


class DevLakeCommit(_Lenient):
    repoUrl: str = Field(min_length=1, max_length=2000)  # noqa: N815 - DevLake's field names
    commitSha: str = _SHA  # noqa: N815
    refName: str | None = None  # noqa: N815
    startedDate: Time | None = None  # noqa: N815
    finishedDate: Time | None = None  # noqa: N815


class DevLakeDeployment(_Lenient):
    """DevLake `POST .../deployments` (v1.0 shape: id, startedDate, finishedDate, deploymentCommits)."""

    id: str = _ID
    result: Literal["SUCCESS", "FAILURE", "ABORT", "MANUAL", ""] = ""
    environment: str = ""  # PRODUCTION | STAGING | TESTING | DEVELOPMENT; "" = PRODUCTION
    displayTitle: str | None = None  # noqa: N815
    url: str | None = None
    createdDate: Time | None = None  # noqa: N815
    startedDate: Time  # noqa: N815
    finishedDate: Time  # noqa: N815
    deploymentCommits: list[DevLakeCommit] = Field(min_length=1, max_length=1000)  # noqa: N815


class DevLakeIssue(_Lenient):
    """DevLake `POST .../issues` (issueKey, title, type, status, createdDate, resolutionDate)."""

    issueKey: str = _ID  # noqa: N815
    title: str = Field(min_length=1, max_length=1000)
    type: str = "INCIDENT"
    status: Literal["TODO", "DONE", "IN_PROGRESS"]
    url: str | None = None
    createdDate: Time  # noqa: N815
    resolutionDate: Time | None = None  # noqa: N815
    priority: str | None = None


DeploymentBody = DeploymentReport | DevLakeDeployment
IncidentBody = IncidentReport | DevLakeIssue

DEPLOYMENT = "deployment"
INCIDENT = "incident"
API_EVENT_TYPES = (DEPLOYMENT, INCIDENT)
SERVICE_HEADER = "x-metricsync-service"  # names the service of a DevLake issue (DevLake's has none)


def is_devlake_deployment(payload: dict[str, Any]) -> bool:
    return "deploymentCommits" in payload or "startedDate" in payload


def is_devlake_issue(payload: dict[str, Any]) -> bool:
    return "issueKey" in payload


def parse_deployment(payload: dict[str, Any]) -> DeploymentBody:
    """Raises pydantic's ValidationError naming the field."""
    if is_devlake_deployment(payload):
        return DevLakeDeployment.model_validate(payload)
    return DeploymentReport.model_validate(payload)


def parse_incident(payload: dict[str, Any]) -> IncidentBody:
    if is_devlake_issue(payload):
        return DevLakeIssue.model_validate(payload)
    return IncidentReport.model_validate(payload)


def devlake_environment(value: str) -> str:
    """DevLake's environment enum, lower-cased ("" is DevLake's default, PRODUCTION)."""
    return (value or "PRODUCTION").lower()
