"""The lead-time breakdown's contract: `GET /api/v1/lead-time` and the `stages` of a series point.

Stages (docs/metrics.md section 7): coding (first commit -> ready for review), pickup (ready -> first
review by someone else), review (first review -> merged), deploy (merged -> the first deployment in the
environment that shipped it). Seconds; null when there is no sample.
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.insights import Link
from schemas.metrics import Scope

StageName = Literal["coding", "pickup", "review", "deploy"]
STAGES: tuple[StageName, ...] = ("coding", "pickup", "review", "deploy")
ChangeKind = Literal["pr", "bot_pr", "direct"]


class _Block(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StageStats(_Block):
    """One stage over the human-authored PRs of the window that have it."""

    stage: StageName
    median_seconds: float | None
    p90_seconds: float | None
    samples: int


class Spread(_Block):
    median_seconds: float | None
    p90_seconds: float | None
    samples: int


class ChangeStages(_Block):
    """One change that reached the environment: a PR (with its stage times) or a commit pushed without one."""

    kind: ChangeKind
    service: str
    sha: str  # the PR's merge commit (else its head), or the pushed commit
    deployment_id: str  # the first deployment in the environment that shipped it
    deployed_at: datetime
    repo: str | None
    number: int | None
    url: str | None  # the PR's web page
    author: str | None
    first_commit_at: datetime | None
    ready_at: datetime | None
    first_review_at: datetime | None
    merged_at: datetime | None
    coding_seconds: float | None
    pickup_seconds: float | None
    review_seconds: float | None
    deploy_seconds: float | None
    lead_time_seconds: float | None  # first commit (a direct commit: its commit time) -> deployed
    links: list[Link] = Field(default_factory=list)  # the PR's web page, the deployment in the read API


class ChangeCounts(_Block):
    pull_requests: int  # human-authored PRs shipped in the window: the stage samples
    bot_pull_requests: int  # PRs authored by a bot: counted, kept out of the stages
    unreviewed_pull_requests: int  # human PRs with no review by someone else before the merge
    direct_commits: int  # commits that reached the environment without a PR


class StageBreakdown(_Block):
    stages: list[StageStats]  # coding, pickup, review, deploy, in that order
    pr_lead_time: Spread  # first commit -> deployed, human PRs
    direct_lead_time: Spread  # commit -> deployed, commits without a PR
    counts: ChangeCounts


class LeadTimeReport(StageBreakdown):
    """`GET /api/v1/lead-time`: the breakdown of a scope's window and its slowest changes."""

    scope: Scope
    slowest: list[ChangeStages]  # by lead time, longest first; at most `limit`
