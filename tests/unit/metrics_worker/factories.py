"""Small event factories for the engine tests. Times are hours after T0 (Monday 2026-03-02 00:00Z)."""

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from metrics_worker.engine import EngineConfig, MetricEngine
from schemas.events import (
    RANK_REPORTED,
    ChangePushed,
    Deployment,
    DeploymentStatus,
    IncidentOpened,
    IncidentResolved,
    PipelineRunFinished,
    PullRequestMerged,
    UnifiedEvent,
)
from schemas.ids import stable_id
from schemas.metrics import DeploymentView, DoraMetrics
from schemas.sources import Source

T0 = datetime(2026, 3, 2, tzinfo=UTC)
HOUR = 3600.0
DAY = 86_400.0
ZERO = "0" * 40


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def _base(kind: str, service: str, when: datetime, *parts: object) -> dict[str, object]:
    return {
        "id": stable_id(kind, service, *(str(p) for p in parts)),
        "source": Source.GITHUB,
        "delivery_id": stable_id("delivery", kind, service, *(str(p) for p in parts)),
        "service": service,
        "event_time": when,
        "received_at": when,
    }


def push(
    push_id: str,
    before: str,
    commits: Sequence[tuple[str, float]],
    *,
    after: str | None = None,
    service: str = "svc",
) -> list[ChangePushed]:
    """One push: commits (sha, commit hour) oldest first; `after` defaults to the last commit."""
    head = after if after is not None else commits[-1][0]
    return [
        ChangePushed(
            **_base("change", service, at(hours), push_id, sha),
            repo=f"acme/{service}",
            branch="main",
            sha=sha,
            commit_time=at(hours),
            push_id=push_id,
            push_before=before,
            push_after=head,
            position=position,
        )
        for position, (sha, hours) in enumerate(commits)
    ]


def deploy(
    deployment_id: str,
    sha: str | None,
    hours: float,
    *,
    status: DeploymentStatus = DeploymentStatus.SUCCESS,
    service: str = "svc",
    environment: str = "production",
    production: bool | None = None,
    rank: int = RANK_REPORTED,
    rollback: bool = False,
) -> Deployment:
    finished = None if status is DeploymentStatus.IN_PROGRESS else at(hours)
    return Deployment(
        **_base("deployment", service, at(hours), deployment_id, status, hours, rank, environment, sha, rollback),
        deployment_id=deployment_id,
        environment=environment,
        production=environment.startswith("prod") if production is None else production,
        sha=sha,
        status=status,
        started_at=None,
        finished_at=finished,
        time_rank=rank,
        rollback=rollback,
    )


def opened(
    incident_id: str,
    start: float,
    *,
    service: str = "svc",
    cause_deployment: str | None = None,
    cause_sha: str | None = None,
    environment: str = "production",
) -> IncidentOpened:
    return IncidentOpened(
        **_base("opened", service, at(start), incident_id, environment),
        incident_id=incident_id,
        environment=environment,
        production=environment.startswith("prod"),
        severity="critical",
        started_at=at(start),
        cause_deployment_id=cause_deployment,
        cause_sha=cause_sha,
    )


def resolved(
    incident_id: str,
    start: float,
    end: float,
    *,
    service: str = "svc",
    cause_deployment: str | None = None,
    cause_sha: str | None = None,
    environment: str = "production",
) -> IncidentResolved:
    return IncidentResolved(
        **_base("resolved", service, at(end), incident_id, environment),
        incident_id=incident_id,
        environment=environment,
        production=environment.startswith("prod"),
        severity="critical",
        started_at=at(start),
        resolved_at=at(end),
        cause_deployment_id=cause_deployment,
        cause_sha=cause_sha,
    )


def incident(
    incident_id: str,
    start: float,
    end: float | None = None,
    *,
    service: str = "svc",
    cause_deployment: str | None = None,
    cause_sha: str | None = None,
    environment: str = "production",
) -> list[UnifiedEvent]:
    """An incident as Alertmanager sends it: firing, then (if `end`) resolved."""
    events: list[UnifiedEvent] = [
        opened(
            incident_id,
            start,
            service=service,
            cause_deployment=cause_deployment,
            cause_sha=cause_sha,
            environment=environment,
        )
    ]
    if end is not None:
        events.append(
            resolved(
                incident_id,
                start,
                end,
                service=service,
                cause_deployment=cause_deployment,
                cause_sha=cause_sha,
                environment=environment,
            )
        )
    return events


def pr_merged(number: int, hours: float, *, service: str = "svc") -> PullRequestMerged:
    return PullRequestMerged(
        **_base("pr", service, at(hours), number),
        repo=f"acme/{service}",
        number=number,
        base_branch="main",
        head_sha=None,
        merge_sha=None,
        merged_at=at(hours),
    )


def pipeline_run(run_id: str, hours: float, *, service: str = "svc") -> PipelineRunFinished:
    return PipelineRunFinished(
        **_base("pipeline", service, at(hours), run_id),
        pipeline="build",
        run_id=run_id,
        outcome="success",
        started_at=None,
        finished_at=at(hours),
    )


def flatten(*items: UnifiedEvent | Iterable[UnifiedEvent]) -> list[UnifiedEvent]:
    out: list[UnifiedEvent] = []
    for item in items:
        if isinstance(item, BaseModel):
            out.append(item)
        else:
            out.extend(item)
    return out


def engine_of(*items: UnifiedEvent | Iterable[UnifiedEvent], window_hours: float | None = 72) -> MetricEngine:
    window = None if window_hours is None else timedelta(hours=window_hours)
    engine = MetricEngine(EngineConfig(attribution_window=window))
    engine.apply_many(flatten(*items))
    return engine


WEEK = (at(-24), at(6 * 24))  # [Sunday 2026-03-01, Sunday 2026-03-08): 7 days around T0


def report_of(
    engine: MetricEngine,
    services: list[str] | None = None,
    environment: str = "production",
    window: tuple[datetime, datetime] = WEEK,
) -> DoraMetrics:
    return engine.report(services, environment, *window)


def views_of(
    engine: MetricEngine, environment: str = "production", window: tuple[datetime, datetime] = WEEK
) -> dict[str, DeploymentView]:
    return {v.deployment_id: v for v in engine.deployments(None, environment, *window)}
