"""The lead-time breakdown: each change a deployment shipped first, split into coding, pickup, review and
deploy (docs/metrics.md section 7).

Read-time, over a window's deployments only: the PR records (pulls.py) and the commit graph are kept up to
date per event, and each deployment's first-shipped commits (`DeployRec.owned`, ownership.py) already are,
so the cost is O(changes in the window), like the lead-time pool. Pure.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from metrics_worker.deployments import DeployRec
from metrics_worker.graph import CommitGraph
from metrics_worker.links import deployment_link
from metrics_worker.pulls import PRKey, PullRequest, PullRequests
from metrics_worker.stats import median, p90
from metrics_worker.stream import Stream
from metrics_worker.timebase import from_us, seconds
from schemas.insights import Link
from schemas.leadtime import STAGES, ChangeCounts, ChangeKind, ChangeStages, Spread, StageBreakdown, StageStats

MAX_BRANCH_PUSHES = 200  # a head branch's push chain is followed back at most this far
_ZERO = frozenset({"", "0" * 40, "0" * 64})


@dataclass(frozen=True, slots=True)
class Change:
    kind: ChangeKind
    service: str
    sha: str
    rec: DeployRec
    pr: PullRequest | None
    first_commit: int | None
    ready: int | None
    first_review: int | None
    stages: tuple[int | None, int | None, int | None, int | None]  # coding, pickup, review, deploy (us)
    lead: int | None

    # the fields of the view (ChangeStages) the insights read, computed on access: the insights read the
    # changes of two windows without building a view of each (metrics_worker.insights.inputs.ChangeFacts)

    @property
    def deployment_id(self) -> str:
        return self.rec.deployment_id

    @property
    def deployed_at(self) -> datetime:
        return from_us(self.rec.finish)

    @property
    def repo(self) -> str | None:
        return self.pr.repo if self.pr else None

    @property
    def number(self) -> int | None:
        return self.pr.number if self.pr else None

    @property
    def url(self) -> str | None:
        return self.pr.url if self.pr else None

    @property
    def coding_seconds(self) -> float | None:
        return _seconds(self.stages[0])

    @property
    def pickup_seconds(self) -> float | None:
        return _seconds(self.stages[1])

    @property
    def review_seconds(self) -> float | None:
        return _seconds(self.stages[2])

    @property
    def deploy_seconds(self) -> float | None:
        return _seconds(self.stages[3])

    @property
    def lead_time_seconds(self) -> float | None:
        return _seconds(self.lead)

    def view(self, environment: str | None = None) -> ChangeStages:
        """The change as the API shows it; with `environment`, links to its PR and its deployment."""
        pr = self.pr
        links = []
        if environment is not None:
            if pr is not None and pr.url:
                links.append(Link(rel="pull-request", href=pr.url, title=f"{pr.repo}#{pr.number}"))
            links.append(deployment_link(self.service, environment, from_us(self.rec.finish), self.rec.deployment_id))
        return ChangeStages(
            kind=self.kind,
            service=self.service,
            sha=self.sha,
            deployment_id=self.rec.deployment_id,
            deployed_at=self.deployed_at,
            repo=self.repo,
            number=self.number,
            url=self.url,
            author=pr.author if pr else None,
            first_commit_at=_dt(self.first_commit),
            ready_at=_dt(self.ready),
            first_review_at=_dt(self.first_review),
            merged_at=_dt(pr.merged if pr else None),
            coding_seconds=self.coding_seconds,
            pickup_seconds=self.pickup_seconds,
            review_seconds=self.review_seconds,
            deploy_seconds=self.deploy_seconds,
            lead_time_seconds=self.lead_time_seconds,
            links=links,
        )


def _seconds(us: int | None) -> float | None:
    return None if us is None else seconds(us)


def _dt(us: int | None) -> datetime | None:
    return None if us is None else from_us(us)


def deployment_changes(service: str, stream: Stream, pulls: PullRequests, rec: DeployRec) -> list[Change]:
    """The changes `rec` shipped first: its PRs (those whose merge commit, else head commit, it shipped
    first), then the commits it shipped first that belong to none of them (pushed without a PR)."""
    graph = stream.graph
    owner = stream.ownership.owner
    found: dict[PRKey, PullRequest] = {}
    for sha in rec.owned:
        key = pulls.by_sha.get(sha)
        if key is None or key in found:
            continue
        pr = pulls.prs[key]
        anchor = pr.merge_sha if pr.merge_sha and pr.merge_sha in owner else pr.head_sha
        if anchor is not None and owner.get(anchor) is rec:
            found[key] = pr
    covered: set[str] = set()
    out: list[Change] = []
    for key in sorted(found):
        pr = found[key]
        commits = pr_commits(pr, pulls, graph)
        covered |= commits
        out.append(_pr_change(service, rec, pr, commits, graph))
    for sha in sorted(rec.owned - covered):
        moment = graph.commit_time.get(sha)
        if moment is None:
            continue  # a node known only as a push's before/after, never as a commit
        lead = max(0, rec.finish - moment)
        out.append(Change("direct", service, sha, rec, None, moment, None, None, (None, None, None, lead), lead))
    return out


def pr_commits(pr: PullRequest, pulls: PullRequests, graph: CommitGraph) -> set[str]:
    """The commits of a PR: its merge and head commits, the commits of the pushes that landed it (the
    pushes whose `after` is the merge commit: the merged branch's commits, the squash commit, or the
    rebased copies), and the commits of its head branch's push chain ending at the head commit."""
    shas = {sha for sha in (pr.merge_sha, pr.head_sha) if sha}
    if pr.merge_sha:
        for push_id in pulls.pushes_to(pr.merge_sha):
            push = graph.pushes.get(push_id)
            if push is not None:
                shas.update(push.shas.values())
    # the head branch's chain only when the branch is known (GitLab and CDEvents merges do not name it:
    # following every branch's pushes would walk back through the base branch's history)
    after, seen = (pr.head_sha if pr.head_ref else None), set[str]()
    while after and after not in _ZERO and after not in seen and len(seen) < MAX_BRANCH_PUSHES:
        seen.add(after)
        pushes = [graph.pushes[p] for p in pulls.pushes_to(after, pr.head_ref) if p in graph.pushes]
        if not pushes:
            break
        for push in pushes:
            shas.update(push.shas.values())
        after = pushes[0].before
    return shas


def _pr_change(service: str, rec: DeployRec, pr: PullRequest, commits: set[str], graph: CommitGraph) -> Change:
    times = [t for t in (graph.commit_time.get(sha) for sha in commits) if t is not None]
    first_commit = min(times, default=None)
    merged = pr.merged
    first_review = pr.first_other_review()
    ready = pr.ready_at(first_review)
    review_from = None if first_review is None else (first_review if ready is None else max(first_review, ready))
    coding = _span(first_commit, ready)
    pickup = _span(ready, review_from)
    review = _span(review_from, merged)
    deploy = _span(merged, rec.finish)
    kind: ChangeKind = "bot_pr" if pr.author_bot else "pr"
    sha = pr.merge_sha or pr.head_sha or ""
    lead = _span(first_commit, rec.finish)
    return Change(
        kind, service, sha, rec, pr, first_commit, ready, first_review, (coding, pickup, review, deploy), lead
    )


def _span(start: int | None, end: int | None) -> int | None:
    """end - start, 0 when negative (clock skew, a PR opened before its first commit); None if either is unknown."""
    if start is None or end is None:
        return None
    return max(0, end - start)


def window_changes(
    service: str,
    stream: Stream,
    pulls: PullRequests,
    start: int,
    end: int,
    memo: dict[tuple[str, DeployRec], Any] | None = None,
) -> list[Change]:
    """The changes of the deployments finishing in [start, end) of one stream; each deployment's taken
    from `memo` (the service state's `derived`, emptied by every event) when an earlier read put it there."""
    i, j = stream.log.window(start, end)
    if memo is None:
        return [change for rec in stream.log.recs[i:j] for change in deployment_changes(service, stream, pulls, rec)]
    out: list[Change] = []
    for rec in stream.log.recs[i:j]:
        changes = memo.get(("changes", rec))
        if changes is None:
            changes = memo[("changes", rec)] = deployment_changes(service, stream, pulls, rec)
        out.extend(changes)
    return out


def breakdown(changes: Iterable[Change]) -> StageBreakdown:
    """Medians and p90 per stage over the human PRs; lead times and counts (docs/metrics.md section 7)."""
    per_stage: list[list[float]] = [[] for _ in STAGES]
    pr_leads: list[float] = []
    direct_leads: list[float] = []
    prs = bots = unreviewed = direct = 0
    for change in changes:
        if change.kind == "direct":
            direct += 1
            if change.lead is not None:
                direct_leads.append(seconds(change.lead))
        elif change.kind == "bot_pr":
            bots += 1
        else:
            prs += 1
            unreviewed += change.first_review is None
            for values, value in zip(per_stage, change.stages, strict=True):
                if value is not None:
                    values.append(seconds(value))
            if change.lead is not None:
                pr_leads.append(seconds(change.lead))
    return StageBreakdown(
        stages=[
            StageStats(stage=name, **_spread(values).model_dump())
            for name, values in zip(STAGES, per_stage, strict=True)
        ],
        pr_lead_time=_spread(pr_leads),
        direct_lead_time=_spread(direct_leads),
        counts=ChangeCounts(
            pull_requests=prs, bot_pull_requests=bots, unreviewed_pull_requests=unreviewed, direct_commits=direct
        ),
    )


def _spread(values: list[float]) -> Spread:
    values.sort()
    return Spread(median_seconds=median(values), p90_seconds=p90(values), samples=len(values))


def slowest(changes: Iterable[Change], limit: int, environment: str | None = None) -> list[ChangeStages]:
    """The `limit` changes with the longest lead time (unknown last), ties by service, deployment, sha."""
    ordered = sorted(
        changes,
        key=lambda c: (c.lead is None, -(c.lead or 0), c.service, c.rec.deployment_id, c.sha),
    )
    return [c.view(environment) for c in ordered[:limit]]
