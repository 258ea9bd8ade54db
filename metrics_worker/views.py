"""Drill-down views: each deployment and merged incident with the facts the metrics counted."""

from datetime import datetime
from typing import Any, NamedTuple

from metrics_worker.deployments import DeployRec
from metrics_worker.incidents import Merged
from metrics_worker.stream import Stream
from metrics_worker.timebase import from_us, seconds
from schemas.metrics import ChangeView, DeploymentView, FailureCause, IncidentView


def _shipped(stream: Stream, rec: DeployRec) -> list[tuple[int, str]]:
    """(commit time, sha) of the commits `rec` shipped first, in the order the view lists them."""
    times = stream.graph.commit_time
    return sorted((t, node) for node in rec.owned if (t := times.get(node)) is not None)


def _causes(rec: DeployRec) -> list[FailureCause]:
    causes = [FailureCause(kind="incident", id=i) for i in sorted(rec.fail_incidents)]
    return causes + [FailureCause(kind="rollback", id=r) for r in sorted(rec.fail_rollbacks)]


class Lead(NamedTuple):
    lead_time_seconds: float


class DeploymentRecord:
    """The facts of one deployment the insights read (metrics_worker.insights.inputs.DeploymentFacts), as
    its DeploymentView has them, computed on first access: the insights of a quarter of 500 services read
    the lead times and failures of tens of thousands of deployments, and the view of each is most of the cost."""

    __slots__ = ("_causes", "_memo", "_rec", "_stream", "service")

    def __init__(self, service: str, stream: Stream, rec: DeployRec, memo: dict[tuple[str, DeployRec], Any]) -> None:
        self.service = service
        self._rec = rec
        self._stream = stream
        self._memo = memo  # the service state's `derived`: emptied by every event of the service
        self._causes: list[FailureCause] | None = None

    @property
    def deployment_id(self) -> str:
        return self._rec.deployment_id

    @property
    def finished_at(self) -> datetime:
        return from_us(self._rec.finish)

    @property
    def rollback(self) -> bool:
        return bool(self._rec.rb_targets)

    @property
    def changes(self) -> list[Lead]:
        changes: list[Lead] | None = self._memo.get(("leads", self._rec))
        if changes is None:
            finish = self._rec.finish
            changes = [Lead(seconds(finish - t)) for t, _ in _shipped(self._stream, self._rec)]
            self._memo[("leads", self._rec)] = changes
        return changes

    @property
    def failed(self) -> bool:
        return bool(self._rec.fail_incidents or self._rec.fail_rollbacks)

    @property
    def failure_causes(self) -> list[FailureCause]:
        if self._causes is None:
            self._causes = _causes(self._rec)
        return self._causes


def deployment_view(service: str, stream: Stream, rec: DeployRec) -> DeploymentView:
    shipped = _shipped(stream, rec)
    causes = _causes(rec)
    recovered = stream.recovery_of(rec)
    return DeploymentView(
        service=service,
        deployment_id=rec.deployment_id,
        sha=rec.sha,
        environment=rec.environment,
        production=rec.production,
        finished_at=from_us(rec.finish),
        rollback=bool(rec.rb_targets),
        rollback_flag=rec.flag,
        changes=[
            ChangeView(sha=sha, commit_time=from_us(t), lead_time_seconds=seconds(rec.finish - t)) for t, sha in shipped
        ],
        failed=bool(causes),
        failure_causes=causes,
        recovered_at=None if recovered is None else from_us(recovered),
        recovery_seconds=None if recovered is None else seconds(recovered - rec.finish),
        rework=stream.rework_of(rec),
    )


def incident_view(service: str, environment: str, stream: Stream, incident: Merged) -> IncidentView:
    blamed = stream.blame.get(incident.incident_id)
    return IncidentView(
        service=service,
        incident_id=incident.incident_id,
        environment=environment,
        started_at=from_us(incident.start),
        resolved_at=None if incident.end is None else from_us(incident.end),
        parts=list(incident.parts),
        cause_deployment_ids=sorted(incident.cause_deployments),
        cause_shas=sorted(incident.cause_shas),
        restore_seconds=None if incident.end is None else seconds(incident.end - incident.start),
        failed_deployment_id=None if blamed is None else blamed.deployment_id,
    )
