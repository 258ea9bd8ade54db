"""Drill-down views: each deployment and merged incident with the facts the metrics counted."""

from metrics_worker.deployments import DeployRec
from metrics_worker.incidents import Merged
from metrics_worker.stream import Stream
from metrics_worker.timebase import from_us, seconds
from schemas.metrics import ChangeView, DeploymentView, FailureCause, IncidentView


def deployment_view(service: str, stream: Stream, rec: DeployRec) -> DeploymentView:
    times = stream.graph.commit_time
    shipped = sorted((t, node) for node in rec.owned if (t := times.get(node)) is not None)
    causes = [FailureCause(kind="incident", id=i) for i in sorted(rec.fail_incidents)]
    causes += [FailureCause(kind="rollback", id=r) for r in sorted(rec.fail_rollbacks)]
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
