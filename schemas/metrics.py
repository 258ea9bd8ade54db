"""The read API's contract: `GET /api/v1/dora` and friends. Numbers are null when there is no sample."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Level = Literal["elite", "high", "medium", "low"]


class _Block(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Scope(_Block):
    """What a report covers: one service, a team, or all services (both null); window [from, to)."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_by_name=True, serialize_by_alias=True)

    service: str | None
    team: str | None
    environment: str
    from_: datetime = Field(alias="from")
    to: datetime
    # set when the window starts before the retained history of one of the scope's services (its
    # horizon, the latest if several): what happened before this moment is not counted
    retained_from: datetime | None = None
    # set when the window starts before the scope's first deployment on record (in the environment):
    # MetricSync knew of no deployment before this moment, so the window's counts begin here (a
    # comparison with a window that ends before it has nothing to compare with)
    history_from: datetime | None = None


class DeploymentFrequency(_Block):
    deployments: int
    deploy_days: int
    per_day: float | None
    failed_attempts: int
    level: Level | None


class LeadTime(_Block):
    median_seconds: float | None  # the headline (docs/metrics.md: why the median)
    mean_seconds: float | None  # beside it, for comparison with tools that report means
    p90_seconds: float | None
    changes: int
    deployments_without_changes: int
    level: Level | None


class ChangeFailureRate(_Block):
    rate: float | None
    failed_deployments: int
    deployments: int
    level: Level | None


class TimeToRestore(_Block):
    median_seconds: float | None
    mean_seconds: float | None
    p90_seconds: float | None
    incidents: int
    open_incidents: int
    level: Level | None


class FailedDeploymentRecovery(_Block):
    median_seconds: float | None
    mean_seconds: float | None
    samples: int


class ReworkRate(_Block):
    rate: float | None
    rework_deployments: int
    deployments: int


class DoraMetrics(_Block):
    deployment_frequency: DeploymentFrequency
    lead_time: LeadTime
    change_failure_rate: ChangeFailureRate
    time_to_restore: TimeToRestore
    failed_deployment_recovery: FailedDeploymentRecovery
    rework_rate: ReworkRate


class DoraReport(DoraMetrics):
    """`GET /api/v1/dora`: the metrics of one scope."""

    scope: Scope


# --- drill-down views (`/api/v1/deployments`, `/api/v1/incidents`, `/api/v1/services`, series) ---------


class ChangeView(_Block):
    """One commit a deployment shipped first. `lead_time_seconds` < 0 (clock skew) is shown but not counted."""

    sha: str
    commit_time: datetime
    lead_time_seconds: float


class FailureCause(_Block):
    """Why a deployment counts as failed: an incident (merged incident id) or a rollback (its deployment id)."""

    kind: Literal["incident", "rollback"]
    id: str


class DeploymentView(_Block):
    """One successful deployment and every fact the metrics derive from it."""

    service: str
    deployment_id: str
    sha: str | None
    environment: str
    production: bool
    finished_at: datetime
    rollback: bool  # this deployment rolled back earlier ones (redeployed an older sha, or flagged)
    rollback_flag: bool  # the source marked it as a rollback
    changes: list[ChangeView]
    failed: bool
    failure_causes: list[FailureCause]
    recovered_at: datetime | None
    recovery_seconds: float | None
    rework: bool


class IncidentView(_Block):
    """One merged incident: overlapping signals of one service, with the deployment it failed."""

    service: str
    incident_id: str  # the id of its earliest part
    environment: str
    started_at: datetime
    resolved_at: datetime | None
    parts: list[str]
    cause_deployment_ids: list[str]
    cause_shas: list[str]
    restore_seconds: float | None
    failed_deployment_id: str | None


class ServiceSummary(_Block):
    service: str
    environments: list[str]  # environment keys: "production" plus the lower-cased environment names
    last_event_at: datetime | None
    # history before this moment was dropped by the retention (docs/metrics.md, Retention); null: all kept
    retained_from: datetime | None = None


class SeriesPoint(_Block):
    """The metrics of one bucket [from, to) of a series."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_by_name=True, serialize_by_alias=True)

    from_: datetime = Field(alias="from")
    to: datetime
    metrics: DoraMetrics
