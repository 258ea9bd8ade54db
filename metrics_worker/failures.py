"""What fails a deployment: rollbacks and incidents (explicit cause, else the attribution heuristic)."""

from bisect import bisect_left

from metrics_worker.deployments import DeploymentLog, DeployRec, Key
from metrics_worker.incidents import Merged


def rollback_targets(log: DeploymentLog, rec: DeployRec) -> tuple[list[DeployRec], Key | None]:
    """The deployments `rec` rolls back, and the older deployment whose sha it redeployed (if any).

    Redeploying the sha of the deployment just before is a re-run; redeploying an older one's sha fails
    every deployment in between; a rollback flag on an unknown (or no) sha fails the deployment just before.
    """
    at = log.index(rec)
    if at == 0:
        return [], None
    prev = log.recs[at - 1]
    if rec.sha is not None:
        if prev.sha == rec.sha:
            return [], None
        older = log.same_sha_before(rec.sha, rec.key)
        if older is not None:
            return log.recs[log.index(older) + 1 : at], older.key
    if rec.flag:
        return [prev], None
    return [], None


def incident_target(
    log: DeploymentLog, owner: dict[str, DeployRec], incident: Merged, window_us: int | None
) -> DeployRec | None:
    """The one deployment an incident fails.

    Its explicit causes first (a deployment id, or a sha: the deployment that first shipped it; of several,
    the earliest). Otherwise the last deployment finished before the incident started, if the next one had
    not finished yet and the start is within the attribution window of its finish.
    """
    named = [log.by_id[d] for d in incident.cause_deployments if d in log.by_id]
    named += [owner[s] for s in incident.cause_shas if s in owner]
    if named:
        return min(named, key=lambda r: r.key)
    at = bisect_left(log.fin, incident.start)  # first deployment finishing at or after the start
    if at == 0:
        return None
    if at < len(log.fin) and log.fin[at] == incident.start:
        return None
    candidate = log.recs[at - 1]
    if window_us is not None and incident.start - candidate.finish > window_us:
        return None
    return candidate
