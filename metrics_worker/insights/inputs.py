"""What the insights are computed from (gathered by MetricEngine.insight_input), the thresholds, and links."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from schemas.insights import Strength
from schemas.leadtime import ChangeKind
from schemas.metrics import IncidentView

ALPHA = 0.05  # a shift is reported when its two-sided p-value is below this
STRONG = 0.01  # ... and is "high" strength below this
MIN_LEAD_SAMPLES = 8  # lead-time shift and drivers: changes in each window
MIN_DEPLOYMENTS = 10  # failure-rate shift: deployments in each window
MIN_RATE_EVENTS = 10  # deployment-rate shift: deployments in both windows together
MIN_DRIVER_CHANGE = 0.10  # drivers: the mean lead time moved by at least 10 % of the previous one
# the previous window is compared only when at least this share of it is on record (a record begun minutes
# before this window would give a rate from a handful of deployments the first services sent at once)
MIN_RECORD_SHARE = 0.5
MIN_RATE_POINTS = 0.05  # failure-rate drivers: the change failure rate moved by at least 5 points
MIN_OUTLIER_SAMPLES = 8  # slow changes: changes with a lead time in the window
MIN_INCIDENT_SAMPLES = 4  # long incidents: resolved incidents in the window
FENCE_IQR = 3.0  # an outlier lies above Q3 + 3 x IQR (Tukey's "far out")
MIN_CLUSTER_FAILURES = 5  # failure clustering: failed deployments in the window
REPEATED_FAILURES = 2  # a service whose deployments caused incidents at least this often


# What the rules read of a deployment and of a change: the fields of the API's DeploymentView and
# ChangeStages (which satisfy these), so the engine can hand its own records instead of building a view
# of every deployment and change of both windows (tens of thousands of them for a quarter of 500 services).


class ShippedChange(Protocol):
    @property
    def lead_time_seconds(self) -> float: ...


class Cause(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def id(self) -> str: ...


class DeploymentFacts(Protocol):
    @property
    def service(self) -> str: ...
    @property
    def deployment_id(self) -> str: ...
    @property
    def finished_at(self) -> datetime: ...
    @property
    def rollback(self) -> bool: ...
    @property
    def changes(self) -> Sequence[ShippedChange]: ...
    @property
    def failed(self) -> bool: ...
    @property
    def failure_causes(self) -> Sequence[Cause]: ...


class ChangeFacts(Protocol):
    @property
    def kind(self) -> ChangeKind: ...
    @property
    def service(self) -> str: ...
    @property
    def sha(self) -> str: ...
    @property
    def deployment_id(self) -> str: ...
    @property
    def deployed_at(self) -> datetime: ...
    @property
    def repo(self) -> str | None: ...
    @property
    def number(self) -> int | None: ...
    @property
    def url(self) -> str | None: ...
    @property
    def coding_seconds(self) -> float | None: ...
    @property
    def pickup_seconds(self) -> float | None: ...
    @property
    def review_seconds(self) -> float | None: ...
    @property
    def deploy_seconds(self) -> float | None: ...
    @property
    def lead_time_seconds(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class Period:
    deployments: Sequence[DeploymentFacts]  # DeploymentView or the engine's own (metrics_worker.views)
    incidents: list[IncidentView]
    changes: Sequence[ChangeFacts]  # the lead-time breakdown's changes (PRs, bot PRs, direct commits)


@dataclass(frozen=True, slots=True)
class InsightInput:
    scope: dict[str, str]  # {"service": ...} or {"team": ...} or {}: the query of the links
    environment: str
    start: datetime
    end: datetime
    previous_start: datetime  # the previous window is [previous_start, start), as long as this one
    current: Period
    previous: Period
    services: list[str]  # the services of the scope the engine knows in this environment
    teams: dict[str, str] = field(default_factory=dict)  # service -> team (for team drivers; empty: none)
    unknown_incidents: list[IncidentView] = field(default_factory=list)  # incidents without a service
    dead_letters: int | None = None  # deliveries that could not be mapped (None: not known here)
    # when the scope's record of deployments begins (its first deployment held); None: no later than
    # previous_start (the previous window is wholly on record)
    history_from: datetime | None = None


STRENGTH_ORDER: dict[Strength, int] = {"high": 0, "medium": 1, "low": 2}


def comparable(data: InsightInput) -> bool:
    """At least MIN_RECORD_SHARE of the previous window is on record: it can be compared with this one."""
    if data.history_from is None or data.history_from <= data.previous_start:
        return True
    return data.start - data.history_from >= MIN_RECORD_SHARE * (data.start - data.previous_start)


def hours(seconds: float) -> str:
    """A duration for a sentence: hours with one decimal below 48 h, else days."""
    if seconds >= 48 * 3600:
        return f"{seconds / 86400:.1f} d"
    return f"{seconds / 3600:.1f} h"
