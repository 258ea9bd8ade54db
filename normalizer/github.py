"""GitHub webhooks -> unified events. Routed on the `X-GitHub-Event` header (`delivery.event_type`),
then on the body's `action`: the event name is never in the body.

    push               branch push  -> one ChangePushed per commit (tags, deletions: nothing)
    pull_request       opened -> PullRequestOpened, ready_for_review -> PullRequestReady,
                       reopened -> PullRequestReopened, closed+merged -> PullRequestMerged,
                       closed unmerged -> PullRequestClosed (other actions: nothing)
    pull_request_review submitted -> ReviewSubmitted (edited, dismissed: nothing)
    deployment_status  -> Deployment (success/failure/error terminal, any other state in_progress)
    workflow_run       completed -> PipelineRunFinished
    issues             labelled `incident` -> IncidentOpened (+ IncidentResolved when closed)
    anything else      -> nothing

and the import kind `metricsync import github` records (schemas.sources.GITHUB_IMPORT_COMPARE):
    compare            the commits between two deployed shas -> ChangePushed, as a push base -> head
"""

import re
from collections.abc import Callable
from typing import TypedDict

from normalizer.envelope import envelope
from normalizer.incidents import IncidentFacts, incident_events
from normalizer.payload import Fields, Parsed, load_object
from normalizer.rules import MappingRules
from normalizer.scm import branch_of
from schemas.events import (
    ChangePushed,
    Deployment,
    DeploymentStatus,
    PipelineRunFinished,
    PullRequestClosed,
    PullRequestMerged,
    PullRequestOpened,
    PullRequestReady,
    PullRequestReopened,
    ReviewSubmitted,
    UnifiedEvent,
)
from schemas.ids import stable_id
from schemas.raw import RawDelivery
from schemas.sources import GITHUB_IMPORT_COMPARE

_Handler = Callable[[Fields, RawDelivery, MappingRules], list[UnifiedEvent]]

_TERMINAL_STATES = {
    "success": DeploymentStatus.SUCCESS,
    "failure": DeploymentStatus.FAILURE,
    "error": DeploymentStatus.ERROR,
}
# workflow_run conclusions -> PipelineRunFinished.outcome; others keep GitHub's word
_OUTCOMES = {"timed_out": "failure", "startup_failure": "failure"}
# Google Four Keys' convention: a line "root cause: <sha>" in an incident issue's body
_ROOT_CAUSE = re.compile(r"^[ \t]*root cause:[ \t]*([0-9a-f]{7,40})\b", re.IGNORECASE | re.MULTILINE)


def map_github(delivery: RawDelivery, rules: MappingRules, parsed: Parsed = None) -> list[UnifiedEvent]:
    handler = _HANDLERS.get(delivery.event_type)
    if handler is None:
        return []
    return handler(load_object(delivery, parsed), delivery, rules)


def _push(body: Fields, delivery: RawDelivery, rules: MappingRules) -> list[UnifiedEvent]:
    ref = body.req_str("ref")
    branch = branch_of(ref)
    if branch is None or body.opt_bool("deleted"):
        return []  # tag push, other ref, or branch deletion: no new change
    repo = body.req_obj("repository")
    full_name = repo.req_str("full_name")
    before, after = body.req_str("before"), body.req_str("after")
    push_id = stable_id("push", repo.req_id("id") if repo.has("id") else full_name, ref, before, after)
    service = rules.service(full_name)
    events: list[UnifiedEvent] = []
    for position, commit in enumerate(body.obj_list("commits")):
        sha = commit.req_str("id")
        commit_time = commit.req_time_strict("timestamp")  # author-local offset -> UTC
        distinct = commit.opt_bool("distinct")
        events.append(
            ChangePushed(
                **envelope(
                    delivery,
                    event_id=stable_id("change", push_id, sha),
                    service=service,
                    event_time=commit_time,
                ),
                repo=full_name.lower(),
                branch=branch,
                sha=sha,
                commit_time=commit_time,
                push_id=push_id,
                push_before=before,
                push_after=after,
                position=position,
                distinct=True if distinct is None else distinct,
            )
        )
    return events


def _import_compare(body: Fields, delivery: RawDelivery, rules: MappingRules) -> list[UnifiedEvent]:
    """The commits a deployment first shipped, from the compare API (oldest first): a push from the
    previous deployment's sha (`base`; None for the first deployment known: the first commit's parent)
    to this one's (`head`). Commit times are the author dates, as a push webhook's `timestamp`."""
    full_name = body.req_obj("repository").req_str("full_name")
    head = body.req_str("head")
    commits = body.obj_list("commits")
    base = body.opt_str("base")
    if base is None and commits:
        parents = commits[0].obj_list("parents", required=False)
        base = parents[0].req_str("sha") if parents else ""
    push_id = stable_id("import-compare", full_name.lower(), base or "", head)
    service = rules.service(full_name)
    branch = body.opt_str("ref") or ""
    events: list[UnifiedEvent] = []
    for position, commit in enumerate(commits):
        sha = commit.req_str("sha")
        commit_time = commit.req_obj("commit").req_obj("author").req_time_strict("date")
        events.append(
            ChangePushed(
                **envelope(
                    delivery, event_id=stable_id("change", push_id, sha), service=service, event_time=commit_time
                ),
                repo=full_name.lower(),
                branch=branch,
                sha=sha,
                commit_time=commit_time,
                push_id=push_id,
                push_before=base or "",
                push_after=head,
                position=position,
            )
        )
    return events


def _is_bot(user: Fields | None) -> bool:
    """GitHub marks app accounts with type "Bot"; their logins end in "[bot]"."""
    if user is None:
        return False
    return user.opt_str("type") == "Bot" or (user.opt_str("login") or "").endswith("[bot]")


class _PRFields(TypedDict):
    repo: str
    number: int
    author: str | None
    author_bot: bool
    draft: bool
    head_ref: str | None
    head_sha: str | None
    base_branch: str | None
    url: str | None


def _pr_fields(body: Fields, pr: Fields, rules: MappingRules) -> tuple[str, _PRFields]:
    """The service and the PullRequestFields of a `pull_request` object."""
    full_name = body.req_obj("repository").req_str("full_name")
    user = pr.opt_obj("user")
    head = pr.opt_obj("head")
    base = pr.opt_obj("base")
    return rules.service(full_name), _PRFields(
        **{
            "repo": full_name.lower(),
            "number": pr.req_int("number"),
            "author": user.opt_str("login") if user else None,
            "author_bot": _is_bot(user),
            "draft": bool(pr.opt_bool("draft")),
            "head_ref": head.opt_str("ref") if head else None,
            "head_sha": head.opt_str("sha") if head else None,
            "base_branch": base.opt_str("ref") if base else None,
            "url": pr.opt_str("html_url"),
        }
    )


def _pull_request(body: Fields, delivery: RawDelivery, rules: MappingRules) -> list[UnifiedEvent]:
    action = body.req_str("action")
    if action not in ("opened", "ready_for_review", "reopened", "closed"):
        return []
    pr = body.req_obj("pull_request")
    service, fields = _pr_fields(body, pr, rules)
    pr_id = pr.req_id("id")
    if action == "opened":
        created = pr.req_time_strict("created_at")
        env = envelope(delivery, event_id=stable_id("pr_opened", pr_id), service=service, event_time=created)
        return [PullRequestOpened(**env, **fields)]
    if action in ("ready_for_review", "reopened"):
        # the delivery has no time of the action itself: updated_at is set by it
        moment = pr.req_time_strict("updated_at")
        kind = "pr_ready" if action == "ready_for_review" else "pr_reopened"
        env = envelope(
            delivery, event_id=stable_id(kind, pr_id, moment.isoformat()), service=service, event_time=moment
        )
        if action == "ready_for_review":
            return [PullRequestReady(**env, **fields)]
        return [PullRequestReopened(**env, **fields)]
    merged = pr.opt_bool("merged")
    if not (pr.has("merged_at") if merged is None else merged):
        # closed without merging (merge_commit_sha may still be set: a test merge)
        closed = pr.req_time_strict("closed_at")
        env = envelope(
            delivery, event_id=stable_id("pr_closed", pr_id, closed.isoformat()), service=service, event_time=closed
        )
        return [PullRequestClosed(**env, **fields)]
    merged_at = pr.req_time_strict("merged_at")
    return [
        PullRequestMerged(
            **envelope(delivery, event_id=stable_id("pr_merged", pr_id), service=service, event_time=merged_at),
            repo=fields["repo"],
            number=fields["number"],
            base_branch=pr.req_obj("base").req_str("ref"),
            head_sha=fields["head_sha"],
            merge_sha=pr.opt_str("merge_commit_sha"),
            merged_at=merged_at,
            author=fields["author"],
            author_bot=fields["author_bot"],
            head_ref=fields["head_ref"],
            url=fields["url"],
        )
    ]


def _pull_request_review(body: Fields, delivery: RawDelivery, rules: MappingRules) -> list[UnifiedEvent]:
    if body.req_str("action") != "submitted":
        return []  # edited, dismissed: the first submission is what the stages use
    review = body.req_obj("review")
    pr = body.req_obj("pull_request")
    service, fields = _pr_fields(body, pr, rules)
    submitted = review.req_time_strict("submitted_at")
    review_id = review.req_id("id")
    user = review.opt_obj("user")
    return [
        ReviewSubmitted(
            **envelope(
                delivery, event_id=stable_id("review_submitted", review_id), service=service, event_time=submitted
            ),
            **fields,
            review_id=f"github:{review_id}",
            reviewer=user.opt_str("login") if user else None,
            reviewer_bot=_is_bot(user),
            state=review.req_str("state").lower(),
        )
    ]


def _deployment_status(body: Fields, delivery: RawDelivery, rules: MappingRules) -> list[UnifiedEvent]:
    status = body.req_obj("deployment_status")
    deployment = body.req_obj("deployment")  # the status has no sha of its own
    state = status.req_str("state").lower()
    reported_at = status.req_time_strict("created_at")
    terminal = _TERMINAL_STATES.get(state)  # unknown states are non-terminal
    environment = deployment.req_str("environment")
    deployment_id = f"github:{deployment.req_id('id')}"
    reasons = (deployment.opt_str("task"), deployment.opt_str("description"))
    full_name = body.req_obj("repository").req_str("full_name")
    return [
        Deployment(
            **envelope(
                delivery,
                event_id=stable_id("deployment", deployment_id, status.req_id("id")),
                service=rules.service(full_name),
                event_time=reported_at,
            ),
            deployment_id=deployment_id,
            environment=environment,
            production=rules.is_production(environment),
            sha=deployment.opt_str("sha"),
            status=terminal or DeploymentStatus.IN_PROGRESS,
            started_at=deployment.opt_time("created_at"),
            finished_at=reported_at if terminal else None,
            rollback=any(rules.is_rollback(text) for text in reasons if text),
            url=status.opt_str("log_url") or status.opt_str("target_url") or None,
        )
    ]


def _workflow_run(body: Fields, delivery: RawDelivery, rules: MappingRules) -> list[UnifiedEvent]:
    if body.req_str("action") != "completed":
        return []
    run = body.req_obj("workflow_run")
    conclusion = run.req_str("conclusion").lower()
    # a re-run keeps the id and increments run_attempt: each attempt is a run of its own
    run_id = f"github:{run.req_id('id')}/attempts/{run.opt_int('run_attempt') or 1}"
    finished_at = run.req_time_strict("updated_at")  # no completed_at: updated_at is the end
    full_name = body.req_obj("repository").req_str("full_name")
    return [
        PipelineRunFinished(
            **envelope(
                delivery,
                event_id=stable_id("pipeline_run", run_id),
                service=rules.service(full_name),
                event_time=finished_at,
            ),
            # `name` can be empty; the workflow file path is stable
            pipeline=run.opt_str("path") or run.opt_str("name") or run.req_id("workflow_id"),
            run_id=run_id,
            outcome=_OUTCOMES.get(conclusion, conclusion),
            started_at=run.opt_time("run_started_at"),
            finished_at=finished_at,
            sha=run.opt_str("head_sha"),
            url=run.opt_str("html_url"),
        )
    ]


def _issues(body: Fields, delivery: RawDelivery, rules: MappingRules) -> list[UnifiedEvent]:
    issue = body.req_obj("issue")
    labels = [label.req_str("name") for label in issue.obj_list("labels", required=False)]
    if not any(rules.is_incident_label(name) for name in labels):
        return []
    closed = issue.opt_str("state") == "closed" or body.opt_str("action") == "closed"
    resolved_at = issue.req_time_strict("closed_at") if closed else None
    cause = _ROOT_CAUSE.search(issue.opt_str("body") or "")
    facts = IncidentFacts(
        incident_id=f"github-issue:{issue.req_id('id')}",
        environment="production",  # an incident issue is about production; no field says otherwise
        production=True,
        severity=None,
        started_at=issue.req_time_strict("created_at"),
        cause_deployment_id=None,
        cause_sha=cause.group(1).lower() if cause else None,
        title=issue.opt_str("title"),
        url=issue.opt_str("html_url"),
    )
    service = rules.service(body.req_obj("repository").req_str("full_name"))
    # an issue can be closed, reopened and closed again: each closing time is its own resolution
    key = resolved_at.isoformat() if resolved_at else None
    return incident_events(delivery, service=service, facts=facts, resolved_at=resolved_at, resolution_key=key)


_HANDLERS: dict[str, _Handler] = {
    "push": _push,
    "pull_request": _pull_request,
    "pull_request_review": _pull_request_review,
    "deployment_status": _deployment_status,
    "workflow_run": _workflow_run,
    "issues": _issues,
}
MAPPED_EVENTS: frozenset[str] = frozenset(_HANDLERS)
_HANDLERS[GITHUB_IMPORT_COMPARE] = _import_compare
