"""All the engine knows about one service: its commit graph, one Stream per environment key, seen ids.

Retention: once `horizon` is set (MetricEngine.prune), the state holds only facts at or after it and
ignores events whose fact time (`fact_time`) is earlier, so it is what applying just the events at or
after the horizon would give. `seen` maps each event id to the UTC day of its fact time, so ids older
than the horizon can be dropped with their facts.

Environment keys: an event with production=True belongs to the key "production"; every event also belongs
to its lower-cased environment name (unless that name is "production" on a non-production event: such an
event would be mistaken for a production one, so it belongs to no key).
"""

from collections.abc import Callable
from typing import Any

from metrics_worker.deployments import DeploymentFact, DeployRec
from metrics_worker.graph import CommitGraph
from metrics_worker.incidents import Signal
from metrics_worker.pulls import PullRequests
from metrics_worker.rollup import Rollup
from metrics_worker.stream import Stream
from metrics_worker.timebase import day_of, to_us
from schemas.events import (
    ChangePushed,
    Deployment,
    IncidentOpened,
    IncidentResolved,
    PullRequestClosed,
    PullRequestMerged,
    PullRequestOpened,
    PullRequestReady,
    PullRequestReopened,
    ReviewSubmitted,
    UnifiedEvent,
)

PRODUCTION = "production"


def environment_key(environment: str) -> str:
    """The key a read asks for: "production" (events with production=True) or an environment name."""
    return environment.strip().lower()


def environment_keys(environment: str, production: bool) -> list[str]:
    keys = [PRODUCTION] if production else []
    name = environment_key(environment)
    if name and name != PRODUCTION:
        keys.append(name)
    return keys


class ServiceState:
    def __init__(
        self, service: str, window_us: int | None, rollups: Callable[[str], Rollup | None] = lambda _: None
    ) -> None:
        self.service = service
        self.window_us = window_us
        self.rollups = rollups
        self.graph = CommitGraph()
        self.pulls = PullRequests()  # PR records and push branches: the lead-time breakdown's own facts
        self.streams: dict[str, Stream] = {}
        self.seen: dict[str, int] = {}  # event id -> day of its fact time
        self.last_event: int | None = None
        self.horizon: int | None = None  # facts earlier than this are dropped (None: keep everything)
        self.oldest: int | None = None  # the earliest fact time held
        self._days: dict[int, int] = {}  # one int object per day number, shared by `seen`
        # what reads derived from this state, per deployment record (the changes it shipped first, ...):
        # valid until the next event is applied, which empties it (reads of many windows, e.g. the
        # insights of two quarters, then derive each deployment once)
        self.derived: dict[tuple[str, DeployRec], Any] = {}

    def stream(self, key: str) -> Stream:
        stream = self.streams.get(key)
        if stream is None:
            stream = self.streams[key] = Stream(self.graph, self.window_us, self.rollups(key))
        return stream

    def detach(self) -> None:
        """Withdraw this state's deployments and incidents from the cross-service rollups (it is being replaced)."""
        for stream in self.streams.values():
            stream.log.detach()
            stream.timeline.detach()

    def remember(self, event_id: str, day: int) -> None:
        self.seen[event_id] = self._days.setdefault(day, day)

    def touch(self, event_id: str, moment: int, fact: int) -> None:
        self.remember(event_id, day_of(fact))
        if self.last_event is None or moment > self.last_event:
            self.last_event = moment
        if self.oldest is None or fact < self.oldest:
            self.oldest = fact

    def apply(self, event: UnifiedEvent) -> bool:
        """Apply a new event; True when it may change the DORA metrics (PR events change only the
        lead-time breakdown, which is read, not published)."""
        if self.derived:
            self.derived.clear()
        match event:
            case ChangePushed():
                self.pulls.note_push(event.push_id, event.branch, event.push_after.lower())
                self.add_commit(
                    event.push_id,
                    event.push_before.lower(),
                    event.push_after.lower(),
                    event.position,
                    event.sha.lower(),
                    to_us(event.commit_time),
                )
            case Deployment():
                fact = deployment_fact(event)
                for key in environment_keys(event.environment, event.production):
                    self.stream(key).add_deployment(fact)
            case IncidentOpened() | IncidentResolved():
                signal = incident_signal(event)
                for key in environment_keys(event.environment, event.production):
                    self.stream(key).add_signal(signal)
            case (
                PullRequestMerged()
                | PullRequestOpened()
                | PullRequestReady()
                | PullRequestReopened()
                | PullRequestClosed()
                | ReviewSubmitted()
            ):
                self.pulls.add_event(event, to_us(event.event_time))
                return False
            case _:
                return False
        return True

    def add_commit(self, push_id: str, before: str, after: str, position: int, sha: str, commit_us: int) -> None:
        self.derived.clear()
        edges, timed = self.graph.add_commit(push_id, before, after, position, sha, commit_us)
        if edges or timed:
            for stream in self.streams.values():
                stream.add_edges(edges, sha if timed else None)


def fact_time(event: UnifiedEvent) -> int:
    """The moment an event's fact is kept by: a commit's time, a deployment's finish, an incident's
    resolution (or start, while open); the event time for anything else."""
    match event:
        case ChangePushed():
            return to_us(event.commit_time)
        case Deployment():
            return to_us(event.finished_at if event.finished_at is not None else event.event_time)
        case IncidentResolved():
            return to_us(event.resolved_at)
        case IncidentOpened():
            return to_us(event.started_at)
        case _:
            return to_us(event.event_time)


def deployment_fact(event: Deployment) -> DeploymentFact:
    return DeploymentFact(
        event_id=event.id,
        deployment_id=event.deployment_id,
        status=event.status,
        time_rank=event.time_rank,
        finished=None if event.finished_at is None else to_us(event.finished_at),
        event_at=to_us(event.event_time),
        sha=event.sha.lower() if event.sha else None,
        rollback=event.rollback,
        environment=event.environment,
        production=event.production,
    )


def incident_signal(event: IncidentOpened | IncidentResolved) -> Signal:
    return Signal(
        incident_id=event.incident_id,
        start=to_us(event.started_at),
        end=to_us(event.resolved_at) if isinstance(event, IncidentResolved) else None,
        cause_deployments=frozenset({event.cause_deployment_id}) if event.cause_deployment_id else frozenset(),
        cause_shas=frozenset({event.cause_sha.lower()}) if event.cause_sha else frozenset(),
    )
