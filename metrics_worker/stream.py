"""The state of one (service, environment key) and its incremental update.

Every change goes in two steps: first the raw change (a deployment in or out of the log, a signal merged,
new commit-graph edges) moves ownership and marks what it may affect in a `Dirty` set; then `settle`
recomputes just those: rollback targets, incident targets, and the per-deployment columns.

What an insertion or removal of deployment D (finish f) can affect, and nothing else:
- the deployment right after D (its predecessor changed: re-run vs rollback), the next later deployment
  with D's sha (the older deployment it may roll back to), sha rollbacks whose range spans D;
- incidents that start in (finish of D's predecessor, finish of D's successor], capped by the attribution
  window, and incidents naming D or a commit whose first shipper changed;
- D's own facts, and those of deployments that gained or lost commits.
"""

from dataclasses import dataclass, field

from metrics_worker.crosssource import outranked
from metrics_worker.deployments import DeploymentFact, DeploymentLog, DeployRec, Outcome, merge
from metrics_worker.failures import incident_target, rollback_targets
from metrics_worker.graph import CommitGraph, Edge
from metrics_worker.incidents import IncidentTimeline, Signal, coverage_changes
from metrics_worker.ownership import Moves, Ownership
from metrics_worker.rollup import Rollup
from metrics_worker.timebase import INF, US_PER_SECOND, day_of
from schemas.events import DeploymentStatus


@dataclass(slots=True)
class Dirty:
    rollbacks: set[DeployRec] = field(default_factory=set)
    incidents: set[str] = field(default_factory=set)
    leads: set[DeployRec] = field(default_factory=set)
    failures: set[DeployRec] = field(default_factory=set)
    rework: set[DeployRec] = field(default_factory=set)


class Stream:
    def __init__(self, graph: CommitGraph, window_us: int | None, rollup: Rollup | None = None) -> None:
        self.graph = graph
        self.window_us = window_us
        self.log = DeploymentLog(rollup)
        self.timeline = IncidentTimeline(rollup)
        self.ownership = Ownership(graph)
        self.facts: dict[str, dict[str, DeploymentFact]] = {}  # deployment id -> event id -> fact
        self.blame: dict[str, DeployRec] = {}  # merged incident id -> the deployment it fails
        # successful deployments with a sha, by sha (cross-source dedup: metrics_worker/crosssource.py)
        self.by_sha: dict[str, dict[str, Outcome]] = {}
        self.sha_of: dict[str, str] = {}  # deployment id -> its sha in by_sha

    # --- raw changes ------------------------------------------------------------------------------

    def _sync(self, outcomes: list[tuple[str, Outcome]], dirty: Dirty) -> None:
        """Make the log hold each deployment as its outcome says: present while successful and not
        outranked by another source's report of the same deployment, absent otherwise. Removals first,
        so a deployment taking another's place never shares the log with it."""
        inserts: list[DeployRec] = []
        for deployment_id, outcome in outcomes:
            rec = self.log.by_id.get(deployment_id)
            counted = outcome.status is DeploymentStatus.SUCCESS and not (
                outcome.sha is not None and outranked(deployment_id, outcome, self.by_sha.get(outcome.sha, {}))
            )
            same = rec is not None and (rec.finish, rec.sha, rec.flag) == (
                outcome.finish,
                outcome.sha,
                outcome.rollback,
            )
            if counted and same and rec is not None:
                rec.environment, rec.production = outcome.environment, outcome.production
                continue
            if rec is not None:
                self._remove(rec, dirty)
            if counted:
                inserts.append(
                    DeployRec(
                        deployment_id=deployment_id,
                        finish=outcome.finish,
                        sha=outcome.sha,
                        flag=outcome.rollback,
                        environment=outcome.environment,
                        production=outcome.production,
                    )
                )
        for new in inserts:
            self._insert(new, dirty)

    def add_deployment(self, fact: DeploymentFact) -> bool:
        known = self.facts.setdefault(fact.deployment_id, {})
        if fact.event_id in known:
            return False
        known[fact.event_id] = fact
        outcome = merge(known.values())
        dirty = Dirty()
        deployment_id = fact.deployment_id
        previous_sha = self.sha_of.pop(deployment_id, None)
        if previous_sha is not None:
            group = self.by_sha[previous_sha]
            del group[deployment_id]
            if not group:
                del self.by_sha[previous_sha]
        if outcome.status is DeploymentStatus.SUCCESS and outcome.sha is not None:
            self.by_sha.setdefault(outcome.sha, {})[deployment_id] = outcome
            self.sha_of[deployment_id] = outcome.sha
        # a change of this deployment may let another source's report of it count, or stop it counting
        changed = [(deployment_id, outcome)]
        for sha in sorted({previous_sha, outcome.sha} - {None}, key=str):
            for other_id, other in sorted(self.by_sha.get(sha or "", {}).items()):
                if other_id != deployment_id:
                    changed.append((other_id, other))
        self._sync(changed, dirty)
        attempt = (outcome.finish, fact.deployment_id) if outcome.failed_attempt else None
        self.log.set_attempt(fact.deployment_id, attempt)
        self._settle(dirty)
        return True

    def add_signal(self, signal: Signal) -> bool:
        change = self.timeline.upsert(signal)
        if change is None:
            return False
        removed, added = change
        dirty = Dirty()
        for merged in removed:
            target = self.blame.pop(merged.incident_id, None)
            if target is not None:
                target.fail_incidents.discard(merged.incident_id)
                dirty.failures.add(target)
        dirty.incidents.update(m.incident_id for m in added)
        for start, end in coverage_changes(removed, added):
            i, j = self.log.window(start, end)
            dirty.rework.update(self.log.recs[i:j])
        self._settle(dirty)
        return True

    def add_edges(self, edges: list[Edge], timed: str | None) -> None:
        owner = self.ownership.owner
        if (timed is None or timed not in owner) and not any(child in owner for child, _ in edges):
            return  # nothing shipped yet reaches the new edges or the (re)timed commit
        dirty = Dirty()
        moves = Moves()
        for child, parent in edges:
            holder = owner.get(child)
            if holder is not None:
                self.ownership.claim(parent, holder, moves)
        if timed is not None and timed in owner:
            dirty.leads.add(owner[timed])
        self._moved(moves, dirty)
        self._settle(dirty)

    # --- insertion and removal of a successful deployment -------------------------------------------

    def _insert(self, rec: DeployRec, dirty: Dirty) -> None:
        self.log.insert(rec, day_of(rec.finish))
        moves = Moves()
        if rec.sha is not None:
            self.ownership.claim(rec.sha, rec, moves)
        self._moved(moves, dirty)
        dirty.rollbacks.add(rec)
        dirty.leads.add(rec)
        dirty.failures.add(rec)
        dirty.rework.add(rec)
        self._neighbourhood(rec, dirty)

    def _remove(self, rec: DeployRec, dirty: Dirty) -> None:
        log = self.log
        for incident_id in rec.fail_incidents:
            self.blame.pop(incident_id, None)
            dirty.incidents.add(incident_id)
        for rollback_id in rec.fail_rollbacks:
            rollback = log.by_id[rollback_id]
            rollback.rb_targets = tuple(t for t in rollback.rb_targets if t != rec.deployment_id)
            dirty.rollbacks.add(rollback)
        for target_id in rec.rb_targets:
            target = log.by_id[target_id]
            target.fail_rollbacks.discard(rec.deployment_id)
            dirty.failures.add(target)
        log.remove(rec)
        moves = Moves()
        self.ownership.release(rec, log, moves)
        self._moved(moves, dirty)
        self._neighbourhood(rec, dirty)

    def _neighbourhood(self, rec: DeployRec, dirty: Dirty) -> None:
        log = self.log
        prev, nxt = log.before(rec.key), log.after(rec.key)
        if nxt is not None:
            dirty.rollbacks.add(nxt)
        if rec.sha is not None:
            same = log.same_sha_after(rec.sha, rec.key)
            if same is not None:
                dirty.rollbacks.add(same)
        dirty.rollbacks.update(log.spanning(rec.key))
        low = prev.finish if prev is not None else rec.finish - 1
        high = nxt.finish if nxt is not None else INF
        if self.window_us is not None:
            high = min(high, max(low, rec.finish) + self.window_us)
        dirty.incidents.update(m.incident_id for m in self.timeline.starting_in(low + 1, high + 1))
        dirty.incidents |= self.timeline.citing(deployment_id=rec.deployment_id)

    def _moved(self, moves: Moves, dirty: Dirty) -> None:
        dirty.leads |= moves.recs
        citing = self.timeline.citing_sha
        for node in moves.nodes:
            if node in citing:
                dirty.incidents |= self.timeline.citing(sha=node)

    # --- recomputing what was marked ------------------------------------------------------------------

    def _settle(self, dirty: Dirty) -> None:
        log = self.log
        for rec in sorted(dirty.rollbacks, key=lambda r: r.key):
            if log.present(rec):
                self._settle_rollback(rec, dirty)
        for incident_id in sorted(dirty.incidents):
            self._settle_incident(incident_id, dirty)
        graph_time = self.graph.commit_time
        for rec in dirty.leads:
            if log.present(rec):
                times = [t for t in (graph_time.get(n) for n in rec.owned) if t is not None]
                leads = tuple(sorted((rec.finish - t) / US_PER_SECOND for t in times if t <= rec.finish))
                log.set_leads(rec, leads, not times)
        for rec in dirty.failures:
            if log.present(rec):
                recovered = self.recovery_of(rec)
                failed = bool(rec.fail_incidents or rec.fail_rollbacks)
                log.set_failure(rec, failed, None if recovered is None else (recovered - rec.finish) / US_PER_SECOND)
        for rec in dirty.rework:
            if log.present(rec):
                log.set_rework(rec, self.rework_of(rec, with_open=False))

    def _settle_rollback(self, rec: DeployRec, dirty: Dirty) -> None:
        targets, older = rollback_targets(self.log, rec)
        new = tuple(t.deployment_id for t in targets)
        dirty.rework.add(rec)
        if new == rec.rb_targets and older == rec.rb_from:
            return
        for target_id in set(rec.rb_targets) - set(new):
            gone = self.log.by_id.get(target_id)
            if gone is not None:
                gone.fail_rollbacks.discard(rec.deployment_id)
                dirty.failures.add(gone)
        for target in targets:
            target.fail_rollbacks.add(rec.deployment_id)
            dirty.failures.add(target)
        rec.rb_targets = new
        self.log.set_range(rec, older)

    def _settle_incident(self, incident_id: str, dirty: Dirty) -> None:
        merged = self.timeline.by_id.get(incident_id)
        old = self.blame.pop(incident_id, None)
        if old is not None:
            old.fail_incidents.discard(incident_id)
            dirty.failures.add(old)
        if merged is None:
            return
        target = incident_target(self.log, self.ownership.owner, merged, self.window_us)
        if target is not None:
            self.blame[incident_id] = target
            target.fail_incidents.add(incident_id)
            dirty.failures.add(target)

    def rework_of(self, rec: DeployRec, *, with_open: bool = True) -> bool:
        """A rollback, or finished while an incident was open. The log's column leaves out the open
        incident (with_open=False); reads add it."""
        covering = self.timeline.covering(rec.finish)
        return bool(rec.rb_targets) or (covering is not None and (with_open or covering.end is not None))

    def recovery_of(self, rec: DeployRec) -> int | None:
        """When a failed deployment recovered: the earliest resolution of an incident or finish of a
        rollback that failed it, not before its own finish."""
        moments = [self.log.by_id[r].finish for r in rec.fail_rollbacks]
        for incident_id in rec.fail_incidents:
            end = self.timeline.by_id[incident_id].end
            if end is not None:
                moments.append(end)
        valid = [m for m in moments if m >= rec.finish]
        return min(valid) if valid else None
