"""Deployments of one (service, environment): merging the events of a deployment id, and the sorted log.

The log keeps successful deployments sorted by `key` = (finish, deployment id) in parallel columns, so a
window is two bisects and its counts are slices; failed attempts are a second sorted list.
"""

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable
from dataclasses import dataclass, field

from metrics_worker.rollup import Rollup
from metrics_worker.timebase import day_of
from schemas.events import DeploymentStatus

Key = tuple[int, str]  # (finished, deployment id): the order of deployments
_FAILED = frozenset({DeploymentStatus.FAILURE, DeploymentStatus.ERROR})


@dataclass(frozen=True, slots=True)
class DeploymentFact:
    """What the engine keeps of one Deployment event."""

    event_id: str
    deployment_id: str
    status: DeploymentStatus
    time_rank: int
    finished: int | None
    event_at: int
    sha: str | None
    rollback: bool
    environment: str
    production: bool

    def rank(self) -> tuple[bool, int, int, str]:
        """Higher wins: terminal, then time rank, then the later finish, then the event id (any order)."""
        return (self.status.terminal, self.time_rank, self.finish, self.event_id)

    @property
    def finish(self) -> int:
        return self.finished if self.finished is not None else self.event_at


@dataclass(frozen=True, slots=True)
class Outcome:
    status: DeploymentStatus
    finish: int
    sha: str | None
    rollback: bool
    environment: str
    production: bool

    @property
    def failed_attempt(self) -> bool:
        return self.status in _FAILED


def merge(facts: Iterable[DeploymentFact]) -> Outcome:
    """One deployment from its events: the winner's status and finish; its sha, else the best one known."""
    ordered = sorted(facts, key=DeploymentFact.rank, reverse=True)
    win = ordered[0]
    return Outcome(
        status=win.status,
        finish=win.finish,
        sha=next((f.sha for f in ordered if f.sha), None),
        rollback=any(f.rollback for f in ordered),
        environment=win.environment,
        production=win.production,
    )


@dataclass(eq=False, slots=True)
class DeployRec:
    """A successful deployment and its derived facts (identity-hashed: a changed deployment is a new rec)."""

    deployment_id: str
    finish: int
    sha: str | None
    flag: bool
    environment: str
    production: bool
    owned: set[str] = field(default_factory=set)  # graph nodes it shipped first
    fail_incidents: set[str] = field(default_factory=set)  # merged incident ids blaming it
    fail_rollbacks: set[str] = field(default_factory=set)  # rollbacks that rolled it back
    rb_targets: tuple[str, ...] = ()  # deployments this one rolled back
    rb_from: Key | None = None  # the older deployment whose sha it redeployed

    @property
    def key(self) -> Key:
        return (self.finish, self.deployment_id)


class DeploymentLog:
    def __init__(self, rollup: Rollup | None = None) -> None:
        self.rollup = rollup  # the environment's cross-service day totals, kept in step with the columns
        self.keys: list[Key] = []
        self.recs: list[DeployRec] = []
        self.fin: list[int] = []
        self.day: list[int] = []
        self.failed: list[bool] = []
        self.leads: list[tuple[float, ...]] = []  # non-negative lead times (seconds) of its changes, sorted
        self.nochange: list[bool] = []
        self.recovery: list[float | None] = []  # seconds from finish to recovery, for recovered failed ones
        self.rework: list[bool] = []
        self.by_id: dict[str, DeployRec] = {}
        self.by_sha: dict[str, list[Key]] = {}
        self.range_ends: list[Key] = []  # sha rollbacks R, sorted ...
        self.range_starts: list[Key] = []  # ... and the older deployment O whose sha R redeployed
        self.attempts: list[Key] = []
        self.attempt_key: dict[str, Key] = {}

    def __len__(self) -> int:
        return len(self.keys)

    def insert(self, rec: DeployRec, day: int) -> None:
        at = bisect_left(self.keys, rec.key)
        self.keys.insert(at, rec.key)
        self.recs.insert(at, rec)
        self.fin.insert(at, rec.finish)
        self.day.insert(at, day)
        self.failed.insert(at, False)
        self.leads.insert(at, ())
        self.nochange.insert(at, True)
        self.recovery.insert(at, None)
        self.rework.insert(at, False)
        if self.rollup is not None:
            self.rollup.count(day, deployments=1, nochange=1)
        self.by_id[rec.deployment_id] = rec
        if rec.sha is not None:
            insort(self.by_sha.setdefault(rec.sha, []), rec.key)

    def remove(self, rec: DeployRec) -> None:
        at = self.index(rec)
        self._unroll(at)
        for column in (self.keys, self.recs, self.fin, self.day, self.failed, self.leads, self.nochange, self.rework):
            del column[at]
        del self.recovery[at]
        del self.by_id[rec.deployment_id]
        if rec.sha is not None:
            keys = self.by_sha[rec.sha]
            keys.remove(rec.key)
            if not keys:
                del self.by_sha[rec.sha]
        self.set_range(rec, None)

    def detach(self) -> None:
        """Take every deployment and failed attempt out of the rollup (the log is being replaced)."""
        for at in range(len(self.keys)):
            self._unroll(at)
        if self.rollup is not None:
            for finish, _ in self.attempts:
                self.rollup.attempt(day_of(finish), -1)
        self.rollup = None

    def _unroll(self, at: int) -> None:
        if self.rollup is not None:
            day = self.day[at]
            self.rollup.leads(day, self.leads[at], ())
            self.rollup.recovery(day, self.recovery[at], None)
            self.rollup.count(
                day,
                deployments=-1,
                failed=-self.failed[at],
                nochange=-self.nochange[at],
                rework=-self.rework[at],
            )

    def present(self, rec: DeployRec) -> bool:
        return self.by_id.get(rec.deployment_id) is rec

    def index(self, rec: DeployRec) -> int:
        at = bisect_left(self.keys, rec.key)
        if at >= len(self.recs) or self.recs[at] is not rec:
            raise KeyError(rec.deployment_id)
        return at

    def before(self, key: Key) -> DeployRec | None:
        at = bisect_left(self.keys, key)
        return self.recs[at - 1] if at > 0 else None

    def after(self, key: Key) -> DeployRec | None:
        at = bisect_right(self.keys, key)
        return self.recs[at] if at < len(self.recs) else None

    def same_sha_before(self, sha: str, key: Key) -> DeployRec | None:
        keys = self.by_sha.get(sha, [])
        at = bisect_left(keys, key)
        return self.by_id[keys[at - 1][1]] if at > 0 else None

    def same_sha_after(self, sha: str, key: Key) -> DeployRec | None:
        keys = self.by_sha.get(sha, [])
        at = bisect_right(keys, key)
        return self.by_id[keys[at][1]] if at < len(keys) else None

    def spanning(self, key: Key) -> list[DeployRec]:
        """Sha rollbacks R whose range (O, R) contains `key`: their targets change when it comes or goes."""
        out = []
        for at in range(bisect_right(self.range_ends, key), len(self.range_ends)):
            if self.range_starts[at] < key:
                out.append(self.by_id[self.range_ends[at][1]])
        return out

    def set_range(self, rec: DeployRec, rb_from: Key | None) -> None:
        """Record (or clear) the range (O, R) of a sha rollback R, for `spanning`."""
        key = rec.key
        if rec.rb_from is not None:
            at = bisect_left(self.range_ends, key)
            del self.range_ends[at]
            del self.range_starts[at]
        rec.rb_from = rb_from
        if rb_from is not None:
            at = bisect_left(self.range_ends, key)
            self.range_ends.insert(at, key)
            self.range_starts.insert(at, rb_from)

    def set_leads(self, rec: DeployRec, leads: tuple[float, ...], nochange: bool) -> None:
        at = self.index(rec)
        if self.rollup is not None:
            self.rollup.leads(self.day[at], self.leads[at], leads)
            self.rollup.count(self.day[at], nochange=nochange - self.nochange[at])
        self.leads[at] = leads
        self.nochange[at] = nochange

    def set_failure(self, rec: DeployRec, failed: bool, recovery: float | None) -> None:
        at = self.index(rec)
        if self.rollup is not None:
            self.rollup.count(self.day[at], failed=failed - self.failed[at])
            self.rollup.recovery(self.day[at], self.recovery[at], recovery)
        self.failed[at] = failed
        self.recovery[at] = recovery

    def set_rework(self, rec: DeployRec, rework: bool) -> None:
        at = self.index(rec)
        if self.rollup is not None:
            self.rollup.count(self.day[at], rework=rework - self.rework[at])
        self.rework[at] = rework

    def window(self, start: int, end: int) -> tuple[int, int]:
        return bisect_left(self.fin, start), bisect_left(self.fin, end)

    def set_attempt(self, deployment_id: str, key: Key | None) -> None:
        old = self.attempt_key.pop(deployment_id, None)
        if old is not None:
            del self.attempts[bisect_left(self.attempts, old)]
            if self.rollup is not None:
                self.rollup.attempt(day_of(old[0]), -1)
        if key is not None:
            self.attempt_key[deployment_id] = key
            insort(self.attempts, key)
            if self.rollup is not None:
                self.rollup.attempt(day_of(key[0]), 1)

    def attempts_in(self, start: int, end: int) -> int:
        return bisect_left(self.attempts, (end,)) - bisect_left(self.attempts, (start,))
