"""GitLab webhooks -> unified events. Routed on `X-Gitlab-Event` (`delivery.event_type`).

    Push Hook           branch push -> one ChangePushed per commit (tags, deletions: nothing)
    Merge Request Hook  action merge -> PullRequestMerged
    Deployment Hook     -> Deployment (success/failed/canceled terminal, running/created in_progress)
    Pipeline Hook       finished (success/failed/canceled/skipped) -> PipelineRunFinished
    Issue Hook          type Incident or the incident label -> IncidentOpened (+ IncidentResolved once closed)
    anything else       -> nothing

The project's `path_with_namespace` names the service (through the catalog), as a GitHub repository's
full name does. GitLab writes many times as `2017-12-10 17:08:07 UTC`; both that and RFC 3339 are read.
"""

import re
from collections.abc import Callable

from normalizer.envelope import envelope
from normalizer.gitlab_api import IMPORT_EVENTS, map_gitlab_api
from normalizer.incidents import IncidentFacts, incident_events
from normalizer.payload import Fields, Parsed, load_object
from normalizer.rules import MappingRules
from normalizer.scm import branch_of
from schemas.events import (
    ChangePushed,
    Deployment,
    DeploymentStatus,
    PipelineRunFinished,
    PullRequestMerged,
    UnifiedEvent,
)
from schemas.ids import stable_id
from schemas.raw import RawDelivery

_Handler = Callable[[Fields, RawDelivery, MappingRules], list[UnifiedEvent]]

_ZERO_SHA = "0" * 40
_DEPLOYMENT_STATES = {
    "success": DeploymentStatus.SUCCESS,
    "failed": DeploymentStatus.FAILURE,
    "canceled": DeploymentStatus.ERROR,  # an attempt that did not deploy: a failed attempt, not a failure
}
_PIPELINE_OUTCOMES = {"success": "success", "failed": "failure", "canceled": "cancelled", "skipped": "skipped"}
_ROOT_CAUSE = re.compile(r"^[ \t]*root cause:[ \t]*([0-9a-f]{7,40})\b", re.IGNORECASE | re.MULTILINE)
_COMMIT_SHA = re.compile(r"/commit/([0-9a-f]{40})/?$")
_INCIDENT_TYPE = "incident"


def map_gitlab(delivery: RawDelivery, rules: MappingRules, parsed: Parsed = None) -> list[UnifiedEvent]:
    if delivery.event_type in IMPORT_EVENTS:
        return map_gitlab_api(delivery, rules, parsed)
    handler = _HANDLERS.get(delivery.event_type)
    if handler is None:
        return []
    return handler(load_object(delivery, parsed), delivery, rules)


def _project_path(body: Fields) -> str:
    return body.req_obj("project").req_str("path_with_namespace")


def _push(body: Fields, delivery: RawDelivery, rules: MappingRules) -> list[UnifiedEvent]:
    ref = body.req_str("ref")
    branch = branch_of(ref)
    after = body.req_str("after")
    if branch is None or after == _ZERO_SHA:
        return []  # tag push or branch deletion: no new change
    before = body.req_str("before")
    project = body.req_obj("project")
    path = project.req_str("path_with_namespace")
    push_id = stable_id("push", f"gitlab:{project.req_id('id')}", ref, before, after)
    service = rules.service(path)
    events: list[UnifiedEvent] = []
    for position, commit in enumerate(body.obj_list("commits")):
        sha = commit.req_str("id")
        commit_time = commit.req_gitlab_time("timestamp")
        events.append(
            ChangePushed(
                **envelope(
                    delivery, event_id=stable_id("change", push_id, sha), service=service, event_time=commit_time
                ),
                repo=path.lower(),
                branch=branch,
                sha=sha,
                commit_time=commit_time,
                push_id=push_id,
                push_before=before,
                push_after=after,
                position=position,
            )
        )
    return events


def _merge_request(body: Fields, delivery: RawDelivery, rules: MappingRules) -> list[UnifiedEvent]:
    mr = body.req_obj("object_attributes")
    if mr.opt_str("action") != "merge":
        return []  # opened, updated, closed, approved...: only the merge is a fact the metrics use
    # GitLab's hook has no merged_at in older versions: the update that merged it is the merge time
    merged_at = mr.opt_gitlab_time("merged_at") or mr.req_gitlab_time("updated_at")
    path = _project_path(body)
    last_commit = mr.opt_obj("last_commit")
    return [
        PullRequestMerged(
            **envelope(
                delivery,
                event_id=stable_id("pr_merged", "gitlab", mr.req_id("id")),
                service=rules.service(path),
                event_time=merged_at,
            ),
            repo=path.lower(),
            number=mr.req_int("iid"),
            base_branch=mr.req_str("target_branch"),
            head_sha=last_commit.opt_str("id") if last_commit else None,
            merge_sha=mr.opt_str("merge_commit_sha"),
            merged_at=merged_at,
        )
    ]


def _deployment(body: Fields, delivery: RawDelivery, rules: MappingRules) -> list[UnifiedEvent]:
    state = body.req_str("status").lower()
    terminal = _DEPLOYMENT_STATES.get(state)  # created, running, unknown states: in progress
    changed_at = body.req_gitlab_time("status_changed_at")
    environment = body.req_str("environment")
    deployment_id = f"gitlab:{body.req_id('deployment_id')}"
    # the hook carries the full sha only inside commit_url (short_sha is 8 characters)
    sha_match = _COMMIT_SHA.search(body.opt_str("commit_url") or "")
    production = rules.is_production(environment) or body.opt_str("environment_tier") == "production"
    return [
        Deployment(
            **envelope(
                delivery,
                event_id=stable_id("deployment", deployment_id, state, changed_at.isoformat()),
                service=rules.service(_project_path(body)),
                event_time=changed_at,
            ),
            deployment_id=deployment_id,
            environment=environment,
            production=production,
            sha=sha_match.group(1) if sha_match else None,
            status=terminal or DeploymentStatus.IN_PROGRESS,
            started_at=None if terminal else changed_at,
            finished_at=changed_at if terminal else None,
            url=body.opt_str("deployable_url"),
        )
    ]


def _pipeline(body: Fields, delivery: RawDelivery, rules: MappingRules) -> list[UnifiedEvent]:
    pipeline = body.req_obj("object_attributes")
    outcome = _PIPELINE_OUTCOMES.get(pipeline.req_str("status").lower())
    finished_at = pipeline.opt_gitlab_time("finished_at")
    if outcome is None or finished_at is None:
        return []  # pending, running, created...: not finished
    path = _project_path(body)
    run_id = f"gitlab:{pipeline.req_id('id')}"
    return [
        PipelineRunFinished(
            **envelope(
                delivery,
                event_id=stable_id("pipeline_run", run_id, outcome),
                service=rules.service(path),
                event_time=finished_at,
            ),
            pipeline=f"{path.lower()}:{pipeline.opt_str('ref') or ''}",
            run_id=run_id,
            outcome=outcome,
            started_at=pipeline.opt_gitlab_time("created_at"),
            finished_at=finished_at,
            sha=pipeline.opt_str("sha"),
            url=pipeline.opt_str("url"),
        )
    ]


def _label_titles(labels: list[Fields]) -> list[str]:
    return [label.req_str("title") for label in labels]


def _issue(body: Fields, delivery: RawDelivery, rules: MappingRules) -> list[UnifiedEvent]:
    issue = body.req_obj("object_attributes")
    labels = _label_titles(body.obj_list("labels", required=False)) + _label_titles(
        issue.obj_list("labels", required=False)
    )
    is_incident = (issue.opt_str("type") or "").strip().lower() == _INCIDENT_TYPE
    if not is_incident and not any(rules.is_incident_label(name) for name in labels):
        return []
    closed = issue.opt_str("state") == "closed" or issue.opt_str("action") == "close"
    resolved_at = (issue.opt_gitlab_time("closed_at") or issue.req_gitlab_time("updated_at")) if closed else None
    cause = _ROOT_CAUSE.search(issue.opt_str("description") or "")
    severity = issue.opt_str("severity")
    facts = IncidentFacts(
        incident_id=f"gitlab-issue:{issue.req_id('id')}",
        environment="production",  # an incident issue is about production; no field says otherwise
        production=True,
        severity=None if severity in (None, "unknown") else severity,
        started_at=issue.req_gitlab_time("created_at"),
        cause_deployment_id=None,
        cause_sha=cause.group(1).lower() if cause else None,
        title=issue.opt_str("title"),
        url=issue.opt_str("url"),
    )
    service = rules.service(_project_path(body))
    key = resolved_at.isoformat() if resolved_at else None  # closed, reopened, closed: two resolutions
    return incident_events(delivery, service=service, facts=facts, resolved_at=resolved_at, resolution_key=key)


_HANDLERS: dict[str, _Handler] = {
    "Push Hook": _push,
    "Merge Request Hook": _merge_request,
    "Deployment Hook": _deployment,
    "Pipeline Hook": _pipeline,
    "Issue Hook": _issue,
}
MAPPED_EVENTS: frozenset[str] = frozenset(_HANDLERS)
