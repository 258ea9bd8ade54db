"""The unified event model: what every source is mapped to, and all the metric engine sees.

Each event has a deterministic `id` (same delivery in -> same id out), the time the thing
happened (`event_time`, UTC), the time the delivery was received, and its source. The `kind`
field discriminates the union; `CDEVENTS_TYPE` names the CDEvents type each kind aligns with
(docs/events.md has the full mapping).
"""

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from schemas.catalog import service_id
from schemas.sources import Source

# A service id (schemas.catalog.service_id): whatever a mapper or a stored document says, the event
# carries it normalized, so every consumer (engine, worker, stores, bus keys) uses it as is.
ServiceId = Annotated[str, AfterValidator(service_id)]


class DeploymentStatus(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    ERROR = "error"
    IN_PROGRESS = "in_progress"

    @property
    def terminal(self) -> bool:
        return self is not DeploymentStatus.IN_PROGRESS


RANK_REPORTED = 3  # the tool reported the finish (GitHub status time, Jenkins COMPLETED start+duration)
RANK_FINALIZED = 2  # Jenkins FINALIZED / legacy FINISHED: time of finalisation, a little late
RANK_RECEIVED = 1  # nothing better: the time the delivery reached us


class EventBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    source: Source
    delivery_id: str
    service: ServiceId
    event_time: AwareDatetime
    received_at: AwareDatetime


class ChangePushed(EventBase):
    """One commit of a push to a branch. A commit seen in several pushes gives one event per push;
    the engine counts it once (earliest commit time). `position` is the commit's index in the push
    (oldest first), so the push can be rebuilt: its commits, `before` and `after` form the chain
    the lead-time walk follows."""

    kind: Literal["change"] = "change"
    repo: str
    branch: str
    sha: str
    commit_time: AwareDatetime
    push_id: str
    push_before: str
    push_after: str
    position: int
    distinct: bool = True


class PullRequestMerged(EventBase):
    kind: Literal["pr_merged"] = "pr_merged"
    repo: str
    number: int
    base_branch: str
    head_sha: str | None
    merge_sha: str | None
    merged_at: AwareDatetime
    author: str | None = None
    author_bot: bool = False
    head_ref: str | None = None
    url: str | None = None


class PullRequestFields(BaseModel):
    """What every pull-request event says about its PR. A PR is identified by (repo, number)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    repo: str  # lower-cased full name
    number: int
    author: str | None = None  # login of the PR's author
    author_bot: bool = False  # the author is a bot (GitHub user type "Bot", or a login ending in "[bot]")
    draft: bool = False  # the PR is a draft in this event
    head_ref: str | None = None  # branch the PR merges from
    head_sha: str | None = None
    base_branch: str | None = None
    url: str | None = None  # the PR's web page


class PullRequestOpened(EventBase, PullRequestFields):
    """A PR was opened (possibly as a draft). event_time: the PR's creation time."""

    kind: Literal["pr_opened"] = "pr_opened"


class PullRequestReady(EventBase, PullRequestFields):
    """A draft PR was marked ready for review. event_time: when (the PR's updated_at in that delivery)."""

    kind: Literal["pr_ready"] = "pr_ready"


class PullRequestReopened(EventBase, PullRequestFields):
    """A closed, unmerged PR was reopened. event_time: when (the PR's updated_at in that delivery)."""

    kind: Literal["pr_reopened"] = "pr_reopened"


class PullRequestClosed(EventBase, PullRequestFields):
    """A PR was closed without being merged (a merge is PullRequestMerged). event_time: closed_at."""

    kind: Literal["pr_closed"] = "pr_closed"


class ReviewSubmitted(EventBase, PullRequestFields):
    """A review of a PR was submitted (approved, changes requested or commented). event_time: submitted_at."""

    kind: Literal["review_submitted"] = "review_submitted"
    review_id: str
    reviewer: str | None
    reviewer_bot: bool = False
    state: str  # lower-cased: approved | changes_requested | commented | <GitHub's own word>


class Deployment(EventBase):
    """A deployment attempt or its outcome. Several events of one `deployment_id` (phases, statuses)
    describe one deployment; the engine merges them: a terminal status beats in_progress, and of two
    terminal ones the higher `time_rank`, then the later `finished_at`, wins."""

    kind: Literal["deployment"] = "deployment"
    deployment_id: str  # source deployment id, namespaced by source ("github:123", "jenkins:<url>#42")
    environment: str
    production: bool
    sha: str | None
    status: DeploymentStatus
    started_at: AwareDatetime | None
    finished_at: AwareDatetime | None
    time_rank: int = RANK_REPORTED
    rollback: bool = False
    url: str | None = None


class IncidentFields(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    incident_id: str  # source incident id, namespaced ("alertmanager:<fingerprint>@<startsAt>")
    environment: str
    production: bool
    severity: str | None
    started_at: AwareDatetime
    cause_deployment_id: str | None = None  # explicit cause: a deployment id (as in Deployment)
    cause_sha: str | None = None  # explicit cause: a commit sha
    title: str | None = None
    url: str | None = None


class IncidentOpened(EventBase, IncidentFields):
    kind: Literal["incident_opened"] = "incident_opened"


class IncidentResolved(EventBase, IncidentFields):
    """Carries the start too, so a resolve that arrives before its firing still makes the incident."""

    kind: Literal["incident_resolved"] = "incident_resolved"
    resolved_at: AwareDatetime


class PipelineRunFinished(EventBase):
    kind: Literal["pipeline_run"] = "pipeline_run"
    pipeline: str
    run_id: str
    outcome: str  # success | failure | error | cancelled | <tool's own word, lower-cased>
    started_at: AwareDatetime | None
    finished_at: AwareDatetime
    sha: str | None = None
    url: str | None = None


UnifiedEvent = Annotated[
    ChangePushed
    | PullRequestMerged
    | PullRequestOpened
    | PullRequestReady
    | PullRequestReopened
    | PullRequestClosed
    | ReviewSubmitted
    | Deployment
    | IncidentOpened
    | IncidentResolved
    | PipelineRunFinished,
    Field(discriminator="kind"),
]

EventKind = Literal[
    "change",
    "pr_merged",
    "pr_opened",
    "pr_ready",
    "pr_reopened",
    "pr_closed",
    "review_submitted",
    "deployment",
    "incident_opened",
    "incident_resolved",
    "pipeline_run",
]

PullRequestEvent = PullRequestOpened | PullRequestReady | PullRequestReopened | PullRequestClosed | ReviewSubmitted

CDEVENTS_TYPE: dict[str, str] = {
    "change": "dev.metricsync.change.pushed",  # CDEvents has no type for a pushed commit
    "pr_merged": "dev.cdevents.change.merged",
    "pr_opened": "dev.cdevents.change.created",
    "pr_ready": "dev.cdevents.change.updated",  # CDEvents has no "ready for review": an update
    "pr_reopened": "dev.cdevents.change.updated",  # nor a "reopened"
    "pr_closed": "dev.cdevents.change.abandoned",
    "review_submitted": "dev.cdevents.change.reviewed",
    "deployment": "dev.cdevents.service.deployed",  # status != success: no CDEvents type, same shape
    "incident_opened": "dev.cdevents.incident.detected",
    "incident_resolved": "dev.cdevents.incident.resolved",
    "pipeline_run": "dev.cdevents.pipelinerun.finished",
}

EVENT_ADAPTER: TypeAdapter[UnifiedEvent] = TypeAdapter(UnifiedEvent)
EVENT_LIST_ADAPTER: TypeAdapter[list[UnifiedEvent]] = TypeAdapter(list[UnifiedEvent])


def event_to_json(event: UnifiedEvent) -> bytes:
    return event.model_dump_json().encode()


def event_from_json(data: bytes | str) -> UnifiedEvent:
    return EVENT_ADAPTER.validate_json(data)


__all__ = [
    "CDEVENTS_TYPE",
    "EVENT_ADAPTER",
    "EVENT_LIST_ADAPTER",
    "RANK_FINALIZED",
    "RANK_RECEIVED",
    "RANK_REPORTED",
    "ChangePushed",
    "Deployment",
    "DeploymentStatus",
    "EventKind",
    "IncidentOpened",
    "IncidentResolved",
    "PipelineRunFinished",
    "PullRequestClosed",
    "PullRequestEvent",
    "PullRequestFields",
    "PullRequestMerged",
    "PullRequestOpened",
    "PullRequestReady",
    "PullRequestReopened",
    "ReviewSubmitted",
    "UnifiedEvent",
    "event_from_json",
    "event_to_json",
]
