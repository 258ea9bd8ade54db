"""The pull requests of one service and the branches of its pushes: the facts of the lead-time breakdown.

Pure and incremental: each PR event updates one `PullRequest` record (kept whatever the order of arrival);
the stages are read off the records, the commit graph and the deployments' owned commits at read time
(stages.py). A PR is identified by (repo, number). docs/metrics.md section 7 states the rules.

The facts are kept as rows (one per event) so the state can be exported and rebuilt (persist.py), and a
retention horizon drops the rows older than it, as for commits.
"""

from dataclasses import dataclass, field

from metrics_worker.graph import Adjacent, adjacent, joined
from schemas.events import (
    PullRequestEvent,
    PullRequestMerged,
    ReviewSubmitted,
)

PRKey = tuple[str, int]  # (repo, number)

# One fact row: [event id, kind, time (us), repo, number, author, author_bot, draft, head_ref, head_sha,
# base_branch, url, merge_sha, review_id, reviewer, reviewer_bot]
Row = tuple[
    str, str, int, str, int, str | None, bool, bool, str | None, str | None, str | None, str | None,
    str | None, str | None, str | None, bool,
]  # fmt: skip

OPENED, READY, REOPENED, MERGED, REVIEW = "pr_opened", "pr_ready", "pr_reopened", "pr_merged", "review_submitted"
# pr_closed rows are kept (a closed PR that is reopened later is the same record) but move no stage


@dataclass(slots=True)
class PullRequest:
    repo: str
    number: int
    author: str | None = None
    author_bot: bool = False
    url: str | None = None
    head_ref: str | None = None
    head_sha: str | None = None
    base_branch: str | None = None
    merge_sha: str | None = None
    merged: int | None = None
    reviewable: list[int] = field(default_factory=list)  # moments it became ready for review, sorted
    reviews: list[tuple[int, str | None, bool]] = field(default_factory=list)  # (time, reviewer, bot), sorted

    @property
    def key(self) -> PRKey:
        return (self.repo, self.number)

    def first_other_review(self) -> int | None:
        """The earliest review by someone other than the author, and not by a bot, before the merge
        (a review after the merge is not what the PR waited for)."""
        for moment, reviewer, bot in self.reviews:
            if self.merged is not None and moment > self.merged:
                break
            if not bot and reviewer is not None and reviewer != self.author:
                return moment
        return None

    def ready_at(self, first_review: int | None) -> int | None:
        """When the PR last became reviewable before its first other review (or its merge, if none):
        opened (not as a draft), marked ready, or reopened (not as a draft). A review before any such
        moment (a draft reviewed) leaves the first one."""
        limit = first_review if first_review is not None else self.merged
        if not self.reviewable:
            return None
        if limit is None:
            return self.reviewable[-1]
        before = [m for m in self.reviewable if m <= limit]
        return before[-1] if before else self.reviewable[0]


def _sorted_insert(values: list[int], value: int) -> None:
    at = len(values)
    while at > 0 and values[at - 1] > value:
        at -= 1
    values.insert(at, value)


class PullRequests:
    """The PR records of one service, the rows they came from, and indexes for the read side."""

    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}  # event id -> fact row
        self.prs: dict[PRKey, PullRequest] = {}
        self.by_sha: dict[str, PRKey] = {}  # merge sha and head sha -> the PR (the latest merged wins)
        self.branch: dict[str, str] = {}  # push id -> branch pushed to
        # push `after` sha -> push ids, joined by a space (strings, not lists: a dict of lists is tracked
        # by the garbage collector and walked by every collection; see graph.Adjacent)
        self.by_after: dict[str, Adjacent] = {}

    # --- pushes --------------------------------------------------------------------------------------

    def note_push(self, push_id: str, branch: str, after: str) -> None:
        if push_id in self.branch:
            return
        self.branch[push_id] = branch
        self.by_after[after] = joined(self.by_after.get(after), push_id)

    # --- PR events -----------------------------------------------------------------------------------

    def add_event(self, event: PullRequestEvent | PullRequestMerged, moment: int) -> None:
        if isinstance(event, PullRequestMerged):
            row: Row = (
                event.id, MERGED, moment, event.repo, event.number, event.author, event.author_bot, False,
                event.head_ref, _lower(event.head_sha), event.base_branch, event.url, _lower(event.merge_sha),
                None, None, False,
            )  # fmt: skip
        else:
            review = (
                (event.review_id, event.reviewer, event.reviewer_bot) if isinstance(event, ReviewSubmitted) else None
            )
            row = (
                event.id, event.kind, moment, event.repo, event.number, event.author, event.author_bot,
                event.draft, event.head_ref, _lower(event.head_sha), event.base_branch, event.url, None,
                *(review or (None, None, False)),
            )  # fmt: skip
        self.add_row(row)

    def add_row(self, row: Row) -> None:
        event_id, kind, moment, repo, number, author, author_bot, draft, head_ref, head_sha, base, url = row[:12]
        merge_sha, _review_id, reviewer, reviewer_bot = row[12:]
        if event_id in self.rows:
            return
        self.rows[event_id] = row
        key = (repo, number)
        pr = self.prs.get(key)
        if pr is None:
            pr = self.prs[key] = PullRequest(repo, number)
        if kind != REVIEW or pr.author is None:  # a review's copy of the PR is as good as any other
            pr.author = author if author is not None else pr.author
            pr.author_bot = author_bot or pr.author_bot
        pr.url = url or pr.url
        pr.head_ref = head_ref or pr.head_ref
        pr.base_branch = base or pr.base_branch
        if kind == MERGED or (head_sha and pr.merged is None):
            pr.head_sha = head_sha or pr.head_sha  # the head at merge is the one that landed
        if (kind in (OPENED, REOPENED) and not draft) or kind == READY:
            _sorted_insert(pr.reviewable, moment)
        elif kind == MERGED:
            pr.merged, pr.merge_sha = moment, merge_sha
        elif kind == REVIEW:
            at = len(pr.reviews)
            while at > 0 and pr.reviews[at - 1][0] > moment:
                at -= 1
            pr.reviews.insert(at, (moment, reviewer, reviewer_bot))
        if pr.merged is not None:
            for sha in (pr.merge_sha, pr.head_sha):
                if sha:
                    self.by_sha[sha] = key

    # --- reads ---------------------------------------------------------------------------------------

    def pushes_to(self, after: str, branch: str | None = None) -> list[str]:
        """The pushes whose `after` is `after` (to `branch` only, if given)."""
        pushes = adjacent(self.by_after.get(after))
        if branch is None:
            return list(pushes)
        return [p for p in pushes if self.branch.get(p) == branch]


def _lower(sha: str | None) -> str | None:
    return sha.lower() if sha else None
