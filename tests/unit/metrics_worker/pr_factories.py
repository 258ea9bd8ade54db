"""Pull-request event factories for the lead-time breakdown tests (times: hours after T0, as factories.py)."""

from collections.abc import Sequence

from schemas.events import (
    ChangePushed,
    PullRequestClosed,
    PullRequestMerged,
    PullRequestOpened,
    PullRequestReady,
    PullRequestReopened,
    ReviewSubmitted,
    UnifiedEvent,
)
from tests.unit.metrics_worker.factories import _base, at


def branch_push(
    push_id: str,
    branch: str,
    before: str,
    commits: Sequence[tuple[str, float]],
    *,
    service: str = "svc",
) -> list[ChangePushed]:
    """One push to `branch`; commits (sha, hour) oldest first; `after` is the last commit."""
    return [
        ChangePushed(
            **_base("change", service, at(hours), push_id, sha),
            repo=f"acme/{service}",
            branch=branch,
            sha=sha,
            commit_time=at(hours),
            push_id=push_id,
            push_before=before,
            push_after=commits[-1][0],
            position=position,
        )
        for position, (sha, hours) in enumerate(commits)
    ]


def _pr(number: int, service: str, author: str, head_ref: str, head_sha: str) -> dict[str, object]:
    return {
        "repo": f"acme/{service}",
        "number": number,
        "author": author,
        "author_bot": author.endswith("[bot]"),
        "head_ref": head_ref,
        "head_sha": head_sha,
        "base_branch": "main",
        "url": f"https://github.com/acme/{service}/pull/{number}",
    }


def pr_flow(
    number: int,
    head: tuple[str, str],
    *,
    opened: float,
    merged: float | None,
    merge_sha: str | None,
    reviews: Sequence[tuple[str, float]] = (),
    draft_until: float | None = None,
    closed: float | None = None,
    reopened: float | None = None,
    author: str = "alice",
    service: str = "svc",
) -> list[UnifiedEvent]:
    """The PR events of one PR: opened (a draft until `draft_until`, if set), reviews (reviewer, hour;
    a login ending in [bot] is a bot), an optional close and reopen, and the merge."""
    head_ref, head_sha = head
    fields = _pr(number, service, author, head_ref, head_sha)
    events: list[UnifiedEvent] = [
        PullRequestOpened(**_base("pr_opened", service, at(opened), number), **fields, draft=draft_until is not None)
    ]
    if draft_until is not None:
        events.append(PullRequestReady(**_base("pr_ready", service, at(draft_until), number), **fields))
    if closed is not None:
        events.append(PullRequestClosed(**_base("pr_closed", service, at(closed), number), **fields))
    if reopened is not None:
        events.append(PullRequestReopened(**_base("pr_reopened", service, at(reopened), number), **fields))
    for reviewer, hours in reviews:
        events.append(
            ReviewSubmitted(
                **_base("review", service, at(hours), number, reviewer, hours),
                **fields,
                review_id=f"r-{number}-{reviewer}-{hours}",
                reviewer=reviewer,
                reviewer_bot=reviewer.endswith("[bot]"),
                state="approved",
            )
        )
    if merged is not None:
        events.append(
            PullRequestMerged(
                **_base("pr_merged", service, at(merged), number),
                repo=f"acme/{service}",
                number=number,
                base_branch="main",
                head_sha=head_sha,
                merge_sha=merge_sha,
                merged_at=at(merged),
                author=author,
                author_bot=author.endswith("[bot]"),
                head_ref=head_ref,
                url=f"https://github.com/acme/{service}/pull/{number}",
            )
        )
    return events
