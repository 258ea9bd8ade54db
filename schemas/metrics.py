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


class DeploymentFrequency(_Block):
    deployments: int
    deploy_days: int
    per_day: float | None
    failed_attempts: int
    level: Level | None


class LeadTime(_Block):
    median_seconds: float | None
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
    p90_seconds: float | None
    incidents: int
    open_incidents: int
    level: Level | None


class FailedDeploymentRecovery(_Block):
    median_seconds: float | None
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
