"""The insights' contract: `GET /api/v1/insights` (docs/metrics.md section 15)."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.metrics import Scope

FindingKind = Literal[
    "lead_time_shift",
    "failure_rate_shift",
    "deployment_rate_shift",
    "lead_time_drivers",
    "failure_rate_drivers",
    "restore_time_drivers",
    "slow_changes",
    "long_incident",
    "repeated_failures",
    "rollbacks",
    "failure_cluster",
    "no_deployments",
    "changes_unknown",
    "incidents_without_service",
    "dead_letters",
]
Strength = Literal["high", "medium", "low"]
Number = bool | int | float | str | None


class Link(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rel: str  # deployments | incidents | lead-time | pull-request | dead-letters
    href: str  # an API URL (path and query) or, for a pull request, its web page
    title: str | None = None


class Finding(BaseModel):
    """One finding: a sentence, the numbers behind it, how strong it is, and where to check it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: FindingKind
    category: Literal["shift", "driver", "outlier", "data_quality"]
    strength: Strength
    sentence: str
    numbers: dict[str, Number]
    links: list[Link]
    service: str | None = None  # the service it is about, when it is about one


class Window(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_by_name=True, serialize_by_alias=True)

    from_: datetime = Field(alias="from")
    to: datetime


class InsightsReport(BaseModel):
    """`GET /api/v1/insights`: the findings of the scope's window, compared with the window just before."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scope: Scope
    compared_with: Window
    findings: list[Finding]
