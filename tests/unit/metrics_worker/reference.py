"""A slow, obviously-correct model of the metric definitions, to check the incremental engine against.

It recomputes everything from the full list of events, straight from docs/metrics.md, with no indices and
no incremental tricks. Its output is comparable with the engine's drill-down views.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from schemas.events import (
    ChangePushed,
    Deployment,
    DeploymentStatus,
    IncidentOpened,
    IncidentResolved,
    UnifiedEvent,
)

ZERO_SHAS = {"", "0" * 40}


@dataclass
class _Span:
    start: datetime
    incident_id: str
    end: datetime | None
    parts: tuple[str, ...]
    deps: frozenset[str]
    shas: frozenset[str]


@dataclass(frozen=True)
class RefDeployment:
    deployment_id: str
    finished_at: datetime
    sha: str | None
    changes: tuple[str, ...]  # sorted shas
    rollback: bool
    failure_causes: tuple[tuple[str, str], ...]  # sorted (kind, id)
    recovered_at: datetime | None
    rework: bool


@dataclass(frozen=True)
class RefIncident:
    incident_id: str
    started_at: datetime
    resolved_at: datetime | None
    parts: tuple[str, ...]
    failed_deployment_id: str | None


def _in_environment(environment: str, production: bool, key: str) -> bool:
    if key == "production":
        return production
    return environment.lower() == key


def model(
    events: list[UnifiedEvent], service: str, key: str, window: timedelta | None
) -> tuple[list[RefDeployment], list[RefIncident]]:
    mine = {e.id: e for e in events if e.service == service}.values()
    # deployments: merge the events of each id, keep the successful ones in finish order
    by_id: dict[str, list[Deployment]] = {}
    for e in mine:
        if isinstance(e, Deployment) and _in_environment(e.environment, e.production, key):
            by_id.setdefault(e.deployment_id, []).append(e)
    deployments: list[tuple[datetime, str, str | None, bool]] = []
    for dep_id, group in by_id.items():
        ranked = sorted(
            group,
            key=lambda d: (d.status.terminal, d.time_rank, d.finished_at or d.event_time, d.id),
            reverse=True,
        )
        win = ranked[0]
        if win.status is DeploymentStatus.SUCCESS:
            sha = next((d.sha for d in ranked if d.sha), None)
            deployments.append((win.finished_at or win.event_time, dep_id, sha, any(d.rollback for d in ranked)))
    deployments.sort(key=lambda d: (d[0], d[1]))
    # the commit graph: within a push each commit's parent is the one before it, the first one's is
    # `before`; `after` leads to every commit of the push and to `before`
    parents: dict[str, set[str]] = {}
    commit_time: dict[str, datetime] = {}
    pushes: dict[str, tuple[str, str, dict[int, str]]] = {}
    for e in mine:
        if isinstance(e, ChangePushed):
            commit_time[e.sha] = min(commit_time.get(e.sha, e.commit_time), e.commit_time)
            pushes.setdefault(e.push_id, (e.push_before, e.push_after, {}))[2].setdefault(e.position, e.sha)

    def link(child: str, parent: str) -> None:
        if child != parent and child not in ZERO_SHAS and parent not in ZERO_SHAS:
            parents.setdefault(child, set()).add(parent)

    for before, after, commits in pushes.values():
        chain = [commits[p] for p in sorted(commits)]
        link(after, before)
        for i, sha in enumerate(chain):
            link(sha, chain[i - 1] if i else before)
            link(after, sha)
    # walk back from each deployment's sha, stopping at what earlier deployments shipped
    shipped: dict[str, str] = {}  # node -> deployment id that first shipped it
    changes: dict[str, tuple[str, ...]] = {}
    for _, dep_id, sha, _ in deployments:
        visited: set[str] = set()
        stack = [sha] if sha else []
        while stack:
            node = stack.pop()
            if node in visited or node in shipped:
                continue
            visited.add(node)
            stack.extend(parents.get(node, ()))
        for node in visited:
            shipped[node] = dep_id
        changes[dep_id] = tuple(sorted(n for n in visited if n in commit_time))
    # rollbacks
    failed_by: dict[str, set[tuple[str, str]]] = {d[1]: set() for d in deployments}
    recoveries: dict[str, list[datetime]] = {d[1]: [] for d in deployments}
    is_rollback: dict[str, bool] = {}
    for i, (finish, dep_id, sha, flag) in enumerate(deployments):
        targets: list[int] = []
        if i > 0 and not (sha is not None and deployments[i - 1][2] == sha):
            older = [j for j in range(i - 1) if sha is not None and deployments[j][2] == sha]
            if older:
                targets = list(range(older[-1] + 1, i))
            elif flag:
                targets = [i - 1]
        is_rollback[dep_id] = bool(targets)
        for j in targets:
            failed_by[deployments[j][1]].add(("rollback", dep_id))
            recoveries[deployments[j][1]].append(finish)
    # incidents: signals, merged into maximal open intervals
    signals: dict[str, list[IncidentOpened | IncidentResolved]] = {}
    for e in mine:
        if isinstance(e, IncidentOpened | IncidentResolved) and _in_environment(e.environment, e.production, key):
            signals.setdefault(e.incident_id, []).append(e)
    intervals: list[_Span] = []
    for inc_id, parts in signals.items():
        first = min(s.started_at for s in parts)
        ends = [s.resolved_at for s in parts if isinstance(s, IncidentResolved)]
        intervals.append(
            _Span(
                start=first,
                incident_id=inc_id,
                end=max(min(ends), first) if ends else None,
                parts=(inc_id,),
                deps=frozenset(s.cause_deployment_id for s in parts if s.cause_deployment_id),
                shas=frozenset(s.cause_sha for s in parts if s.cause_sha),
            )
        )
    intervals.sort(key=lambda s: (s.start, s.incident_id))
    merged: list[_Span] = []
    for span in intervals:
        if merged and (merged[-1].end is None or span.start <= merged[-1].end):
            last = merged[-1]
            last.end = None if span.end is None or last.end is None else max(span.end, last.end)
            last.parts = (*last.parts, span.incident_id)
            last.deps |= span.deps
            last.shas |= span.shas
        else:
            merged.append(span)
    incidents = []
    order = [d[1] for d in deployments]
    for span in merged:
        named = [d for d in order if d in span.deps] + [shipped[s] for s in span.shas if s in shipped]
        target: str | None = None
        if named:
            target = min(named, key=order.index)
        else:
            earlier = [d for d in deployments if d[0] < span.start]
            if earlier:
                candidate = earlier[-1]
                nxt = order.index(candidate[1]) + 1
                next_ok = nxt == len(order) or deployments[nxt][0] > span.start
                window_ok = window is None or span.start - candidate[0] <= window
                if next_ok and window_ok:
                    target = candidate[1]
        if target is not None:
            failed_by[target].add(("incident", span.incident_id))
            if span.end is not None:
                recoveries[target].append(span.end)
        incidents.append(RefIncident(span.incident_id, span.start, span.end, span.parts, target))

    def covered(moment: datetime) -> bool:
        return any(m.start <= moment and (m.end is None or moment < m.end) for m in merged)

    out = []
    for finish, dep_id, sha, _ in deployments:
        valid = [r for r in recoveries[dep_id] if r >= finish]
        out.append(
            RefDeployment(
                deployment_id=dep_id,
                finished_at=finish,
                sha=sha,
                changes=changes[dep_id],
                rollback=is_rollback[dep_id],
                failure_causes=tuple(sorted(failed_by[dep_id])),
                recovered_at=min(valid) if valid else None,
                rework=is_rollback[dep_id] or covered(finish),
            )
        )
    return out, incidents
