"""Incident signals of one (service, environment) and the merged incidents they form.

A signal is one source incident (IncidentOpened and IncidentResolved of one incident id): it starts at the
earliest start reported and ends at the earliest resolution reported, or is open (end None = +infinity).
Signals that overlap or touch merge into one incident: a maximal interval during which at least one signal
is open. It carries the explicit causes of all its parts, and the id of its earliest part.
"""

from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from metrics_worker.rollup import Rollup
from metrics_worker.timebase import INF, US_PER_SECOND, day_of


@dataclass(frozen=True, slots=True)
class Signal:
    incident_id: str
    start: int
    end: int | None
    cause_deployments: frozenset[str]
    cause_shas: frozenset[str]

    def combine(self, other: "Signal") -> "Signal":
        ends = [e for e in (self.end, other.end) if e is not None]
        return Signal(
            incident_id=self.incident_id,
            start=min(self.start, other.start),
            end=min(ends) if ends else None,
            cause_deployments=self.cause_deployments | other.cause_deployments,
            cause_shas=self.cause_shas | other.cause_shas,
        )

    @property
    def order(self) -> tuple[int, str]:
        return (self.start, self.incident_id)


@dataclass(frozen=True, slots=True)
class Merged:
    incident_id: str
    start: int
    end: int | None
    parts: tuple[str, ...]
    cause_deployments: frozenset[str]
    cause_shas: frozenset[str]

    def covers(self, moment: int) -> bool:
        return self.start <= moment and (self.end is None or moment < self.end)


class IncidentTimeline:
    def __init__(self, rollup: Rollup | None = None) -> None:
        self.rollup = rollup  # the environment's cross-service day totals, kept in step with `restore`
        self.signals: dict[str, Signal] = {}
        self.merged: list[Merged] = []  # disjoint, not touching, sorted by start; only the last may be open
        self.starts: list[int] = []
        self.restore: list[float | None] = []  # seconds from start to end; None while open
        self.by_id: dict[str, Merged] = {}
        self.of_signal: dict[str, Merged] = {}
        self.citing_deployment: dict[str, set[str]] = {}  # deployment id -> signal ids naming it
        self.citing_sha: dict[str, set[str]] = {}

    def upsert(self, signal: Signal) -> tuple[list[Merged], list[Merged]] | None:
        """Add or widen a signal; the merged incidents that went away and came in (None: no change)."""
        old = self.signals.get(signal.incident_id)
        new = signal if old is None else old.combine(signal)
        if new == old:
            return None
        self.signals[new.incident_id] = new
        for dep in new.cause_deployments:
            self.citing_deployment.setdefault(dep, set()).add(new.incident_id)
        for sha in new.cause_shas:
            self.citing_sha.setdefault(sha, set()).add(new.incident_id)
        affected: dict[str, Merged] = {}
        if old is not None:
            mine = self.of_signal[old.incident_id]
            affected[mine.incident_id] = mine
        end = INF if new.end is None else max(new.end, new.start)
        at = bisect_right(self.starts, end) - 1
        while at >= 0 and _end(self.merged[at]) >= new.start:
            affected[self.merged[at].incident_id] = self.merged[at]
            at -= 1
        for merged in affected.values():
            at = bisect_left(self.starts, merged.start)
            if self.rollup is not None:
                self.rollup.incident(day_of(merged.start), self.restore[at], -1)
            del self.merged[at]
            del self.starts[at]
            del self.restore[at]
            del self.by_id[merged.incident_id]
        parts = {part for merged in affected.values() for part in merged.parts}
        parts.add(new.incident_id)
        added = _sweep(sorted((self.signals[p] for p in parts), key=lambda s: s.order))
        for merged in added:
            at = bisect_left(self.starts, merged.start)
            restore = None if merged.end is None else (merged.end - merged.start) / US_PER_SECOND
            self.merged.insert(at, merged)
            self.starts.insert(at, merged.start)
            self.restore.insert(at, restore)
            if self.rollup is not None:
                self.rollup.incident(day_of(merged.start), restore, 1)
            self.by_id[merged.incident_id] = merged
            for part in merged.parts:
                self.of_signal[part] = merged
        return list(affected.values()), added

    def detach(self) -> None:
        """Take every incident out of the rollup (the timeline is being replaced)."""
        if self.rollup is not None:
            for start, restore in zip(self.starts, self.restore, strict=True):
                self.rollup.incident(day_of(start), restore, -1)
        self.rollup = None

    def window(self, start: int, end: int) -> tuple[int, int]:
        """The index range of merged incidents with start in [start, end)."""
        return bisect_left(self.starts, start), bisect_left(self.starts, end)

    def starting_in(self, start: int, end: int) -> list[Merged]:
        i, j = self.window(start, end)
        return self.merged[i:j]

    def open_since(self) -> int | None:
        """The start of the open incident (only the last one can be open), if any."""
        return self.starts[-1] if self.merged and self.merged[-1].end is None else None

    def covering(self, moment: int) -> Merged | None:
        at = bisect_right(self.starts, moment) - 1
        if at >= 0 and self.merged[at].covers(moment):
            return self.merged[at]
        return None

    def citing(self, deployment_id: str | None = None, sha: str | None = None) -> set[str]:
        """Ids of merged incidents naming a deployment id or a sha as cause."""
        index, value = (self.citing_deployment, deployment_id) if sha is None else (self.citing_sha, sha)
        return {self.of_signal[s].incident_id for s in index.get(value or "", ())}


def coverage_changes(old: list[Merged], new: list[Merged]) -> list[tuple[int, int]]:
    """The intervals [a, b) covered by exactly one of two sets of disjoint resolved incidents (open ones
    are left out: what an open incident covers is counted at read time, so a late firing costs nothing)."""
    old = [m for m in old if m.end is not None]
    new = [m for m in new if m.end is not None]
    events = sorted(
        [(m.start, 0, 1) for m in old]
        + [(_end(m), 0, -1) for m in old]
        + [(m.start, 1, 1) for m in new]
        + [(_end(m), 1, -1) for m in new]
    )
    depth = [0, 0]
    out: list[tuple[int, int]] = []
    last = None
    for moment, side, step in events:
        if last is not None and moment > last and (depth[0] > 0) != (depth[1] > 0):
            if out and out[-1][1] == last:
                out[-1] = (out[-1][0], moment)
            else:
                out.append((last, moment))
        depth[side] += step
        last = moment
    return out


def _end(merged: Merged) -> int:
    return INF if merged.end is None else merged.end


def _sweep(ordered: list[Signal]) -> list[Merged]:
    groups: list[tuple[list[Signal], int]] = []
    for signal in ordered:
        end = INF if signal.end is None else max(signal.end, signal.start)
        if groups and signal.start <= groups[-1][1]:
            members, group_end = groups[-1]
            members.append(signal)
            groups[-1] = (members, max(group_end, end))
        else:
            groups.append(([signal], end))
    return [
        Merged(
            incident_id=members[0].incident_id,
            start=members[0].start,
            end=None if group_end >= INF else group_end,
            parts=tuple(s.incident_id for s in members),
            cause_deployments=frozenset().union(*(s.cause_deployments for s in members)),
            cause_shas=frozenset().union(*(s.cause_shas for s in members)),
        )
        for members, group_end in groups
    ]
