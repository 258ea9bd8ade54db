"""GitHub `pull_request` and `pull_request_review` -> the PR events of the lead-time breakdown, against the
real Octokit payloads in tests/fixtures/github. Cases with no public example (a review by someone else,
a bot, a draft) load a real fixture and change values in code, said in a comment."""

from typing import Any

import pytest

from schemas.events import (
    PullRequestClosed,
    PullRequestMerged,
    PullRequestOpened,
    PullRequestReady,
    PullRequestReopened,
    ReviewSubmitted,
)
from schemas.ids import stable_id
from schemas.sources import Source
from tests.unit.normalizer.factories import RECEIVED_AT, fixture_bytes, fixture_json, github, run, single, utc

HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
PR = {
    "repo": "codertocat/hello-world",
    "number": 2,
    "author": "Codertocat",
    "author_bot": False,
    "draft": False,
    "head_ref": "changes",
    "head_sha": HEAD,
    "base_branch": "master",
    "url": "https://github.com/Codertocat/Hello-World/pull/2",
}
ENVELOPE = {"source": Source.GITHUB, "delivery_id": "delivery-1", "service": "codertocat/hello-world"}


def test_opened() -> None:
    event = single(run(github("pull_request", fixture_bytes("github", "pull_request__opened.json"))), PullRequestOpened)
    assert event.model_dump() == {
        **ENVELOPE,
        **PR,
        "id": stable_id("pr_opened", "279147437"),
        "event_time": utc("2019-05-15T15:20:33Z"),  # created_at
        "received_at": RECEIVED_AT,
        "kind": "pr_opened",
    }


def test_ready_for_review_is_timed_by_updated_at() -> None:
    body = fixture_bytes("github", "pull_request__ready_for_review.json")
    event = single(run(github("pull_request", body)), PullRequestReady)
    updated = fixture_json("github", "pull_request__ready_for_review.json")["pull_request"]["updated_at"]
    assert (event.event_time, event.number, event.draft) == (utc(updated), 2, False)
    assert event.id == stable_id("pr_ready", "279147437", utc(updated).isoformat())


def test_reopened() -> None:
    body = fixture_bytes("github", "pull_request__reopened.json")
    event = single(run(github("pull_request", body)), PullRequestReopened)
    updated = fixture_json("github", "pull_request__reopened.json")["pull_request"]["updated_at"]
    assert (event.event_time, event.kind, event.head_ref) == (utc(updated), "pr_reopened", "changes")


def test_closed_without_merge() -> None:
    body = fixture_bytes("github", "pull_request__closed_not_merged.json")
    event = single(run(github("pull_request", body)), PullRequestClosed)
    assert (event.event_time, event.kind) == (utc("2019-05-15T15:21:18Z"), "pr_closed")


def _merged(**pr: Any) -> dict[str, Any]:
    # no public merged example (fixtures README, Gaps): the real "closed" one, marked merged
    body = fixture_json("github", "pull_request__closed_not_merged.json")
    body["pull_request"].update(merged=True, merged_at="2019-05-15T15:21:18Z", **pr)
    return body


def test_merged_carries_author_and_link() -> None:
    event = single(run(github("pull_request", _merged())), PullRequestMerged)
    assert (event.author, event.author_bot, event.head_ref, event.url) == ("Codertocat", False, "changes", PR["url"])


def test_bot_author() -> None:
    # no public bot-authored example: the real "opened" one with dependabot as its author
    body = fixture_json("github", "pull_request__opened.json")
    body["pull_request"]["user"].update(login="dependabot[bot]", type="Bot")
    event = single(run(github("pull_request", body)), PullRequestOpened)
    assert (event.author, event.author_bot) == ("dependabot[bot]", True)


def test_draft_opened() -> None:
    # the real "opened" example is not a draft: the same payload with draft set
    body = fixture_json("github", "pull_request__opened.json")
    body["pull_request"]["draft"] = True
    assert single(run(github("pull_request", body)), PullRequestOpened).draft is True


def test_review_submitted_by_the_author() -> None:
    body = fixture_bytes("github", "pull_request_review__submitted.json")
    event = single(run(github("pull_request_review", body)), ReviewSubmitted)
    assert event.model_dump() == {
        **ENVELOPE,
        **PR,
        "id": stable_id("review_submitted", "237895671"),
        "event_time": utc("2019-05-15T15:20:38Z"),  # submitted_at
        "received_at": RECEIVED_AT,
        "kind": "review_submitted",
        "review_id": "github:237895671",
        "reviewer": "Codertocat",  # the PR's own author: not a pickup (docs/metrics.md)
        "reviewer_bot": False,
        "state": "commented",
    }


def test_review_by_someone_else() -> None:
    # the real review is by the PR's author: the same payload with another reviewer and an approval
    body = fixture_json("github", "pull_request_review__submitted.json")
    body["review"]["user"].update(login="octocat", id=583231)
    body["review"]["state"] = "APPROVED"
    event = single(run(github("pull_request_review", body)), ReviewSubmitted)
    assert (event.reviewer, event.state, event.author) == ("octocat", "approved", "Codertocat")


@pytest.mark.parametrize("action", ["dismissed", "edited"])
def test_other_review_actions_give_nothing(action: str) -> None:
    body = fixture_json("github", "pull_request_review__submitted.json")
    body["action"] = action  # the submitted example with its action changed
    assert run(github("pull_request_review", body)) == []


@pytest.mark.parametrize("action", ["assigned", "labeled", "synchronize", "converted_to_draft"])
def test_other_pr_actions_give_nothing(action: str) -> None:
    body = fixture_json("github", "pull_request__opened.json")
    body["action"] = action  # the opened example with its action changed
    assert run(github("pull_request", body)) == []


def test_redelivery_gives_the_same_ids() -> None:
    body = fixture_bytes("github", "pull_request_review__submitted.json")
    first = run(github("pull_request_review", body))
    again = run(github("pull_request_review", body, delivery_id="delivery-2"))
    assert [e.id for e in first] == [e.id for e in again]
