"""GitLab REST API objects, as `metricsync import gitlab` stores them, -> unified events with the ids
the GitLab webhooks give the same facts (normalizer/gitlab.py).

Each record is `{"project": {"path_with_namespace": ...}, "<kind>": <the REST object>}`:

    deployment     `GET /projects/:id/deployments` item -> Deployment of `gitlab:<id>` (the hook's
                   `deployment_id`). Finish: the deploy job's `deployable.finished_at`, else the
                   deployment's `updated_at` (the REST object has no `status_changed_at`); the event id
                   differs from the hook's, but the deployment id is the same and the engine merges them.
    compare        `GET /projects/:id/repository/compare?from=&to=` commits between two deployed shas
                   -> ChangePushed, as a push from one to the other; times `committed_date` (what the
                   Push Hook's `timestamp` carries), else `created_at`.
    merge_request  merged `GET /projects/:id/merge_requests` item -> PullRequestMerged, the hook's id.
    issue          `GET /projects/:id/issues` incident -> IncidentOpened/Resolved, the hook's ids.
"""

import re

from normalizer.envelope import envelope
from normalizer.incidents import IncidentFacts, incident_events
from normalizer.payload import Fields, Parsed, load_object
from normalizer.rules import MappingRules
from schemas.events import ChangePushed, Deployment, DeploymentStatus, PullRequestMerged, UnifiedEvent
from schemas.ids import stable_id
from schemas.raw import RawDelivery
from schemas.sources import (
    GITLAB_IMPORT_COMPARE,
    GITLAB_IMPORT_DEPLOYMENT,
    GITLAB_IMPORT_ISSUE,
    GITLAB_IMPORT_MERGE_REQUEST,
)

_STATES = {"success": DeploymentStatus.SUCCESS, "failed": DeploymentStatus.FAILURE, "canceled": DeploymentStatus.ERROR}
_ROOT_CAUSE = re.compile(r"^[ \t]*root cause:[ \t]*([0-9a-f]{7,40})\b", re.IGNORECASE | re.MULTILINE)
IMPORT_EVENTS = frozenset(
    {GITLAB_IMPORT_DEPLOYMENT, GITLAB_IMPORT_COMPARE, GITLAB_IMPORT_MERGE_REQUEST, GITLAB_IMPORT_ISSUE}
)


def map_gitlab_api(delivery: RawDelivery, rules: MappingRules, parsed: Parsed = None) -> list[UnifiedEvent]:
    body = load_object(delivery, parsed)
    path = body.req_obj("project").req_str("path_with_namespace")
    if delivery.event_type == GITLAB_IMPORT_DEPLOYMENT:
        return _deployment(body.req_obj("deployment"), path, delivery, rules)
    if delivery.event_type == GITLAB_IMPORT_COMPARE:
        return _compare(body, path, delivery, rules)
    if delivery.event_type == GITLAB_IMPORT_MERGE_REQUEST:
        return _merge_request(body.req_obj("merge_request"), path, delivery, rules)
    return _issue(body.req_obj("issue"), path, delivery, rules)


def _deployment(d: Fields, path: str, delivery: RawDelivery, rules: MappingRules) -> list[UnifiedEvent]:
    state = d.req_str("status").lower()
    terminal = _STATES.get(state)
    job = d.opt_obj("deployable")
    finished = (job.opt_gitlab_time("finished_at") if job else None) or d.req_gitlab_time("updated_at")
    environment = d.req_obj("environment").req_str("name")
    deployment_id = f"gitlab:{d.req_id('id')}"
    return [
        Deployment(
            **envelope(
                delivery,
                event_id=stable_id("deployment", deployment_id, state, finished.isoformat()),
                service=rules.service(path),
                event_time=finished,
            ),
            deployment_id=deployment_id,
            environment=environment,
            production=rules.is_production(environment),
            sha=d.opt_str("sha"),
            status=terminal or DeploymentStatus.IN_PROGRESS,
            started_at=d.opt_gitlab_time("created_at"),
            finished_at=finished if terminal else None,
        )
    ]


def _compare(body: Fields, path: str, delivery: RawDelivery, rules: MappingRules) -> list[UnifiedEvent]:
    head = body.req_str("head")
    base = body.opt_str("base") or ""
    push_id = stable_id("import-compare", f"gitlab:{path.lower()}", base, head)
    service = rules.service(path)
    events: list[UnifiedEvent] = []
    for position, commit in enumerate(body.obj_list("commits")):
        sha = commit.req_str("id")
        at = commit.opt_gitlab_time("committed_date") or commit.req_gitlab_time("created_at")
        events.append(
            ChangePushed(
                **envelope(delivery, event_id=stable_id("change", push_id, sha), service=service, event_time=at),
                repo=path.lower(),
                branch=body.opt_str("ref") or "",
                sha=sha,
                commit_time=at,
                push_id=push_id,
                push_before=base,
                push_after=head,
                position=position,
            )
        )
    return events


def _merge_request(mr: Fields, path: str, delivery: RawDelivery, rules: MappingRules) -> list[UnifiedEvent]:
    merged_at = mr.opt_gitlab_time("merged_at")
    if merged_at is None:
        return []
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
            head_sha=mr.opt_str("sha"),
            merge_sha=mr.opt_str("merge_commit_sha") or mr.opt_str("squash_commit_sha"),
            merged_at=merged_at,
        )
    ]


def _issue(issue: Fields, path: str, delivery: RawDelivery, rules: MappingRules) -> list[UnifiedEvent]:
    labels = [label for label in (issue.raw("labels") or []) if isinstance(label, str)]
    is_incident = (issue.opt_str("issue_type") or issue.opt_str("type") or "").lower() == "incident"
    if not is_incident and not any(rules.is_incident_label(name) for name in labels):
        return []
    resolved_at = issue.req_gitlab_time("closed_at") if issue.opt_str("state") == "closed" else None
    cause = _ROOT_CAUSE.search(issue.opt_str("description") or "")
    severity = issue.opt_str("severity")
    facts = IncidentFacts(
        incident_id=f"gitlab-issue:{issue.req_id('id')}",
        environment="production",
        production=True,
        severity=None if severity in (None, "unknown", "UNKNOWN") else severity.lower(),
        started_at=issue.req_gitlab_time("created_at"),
        cause_deployment_id=None,
        cause_sha=cause.group(1).lower() if cause else None,
        title=issue.opt_str("title"),
        url=issue.opt_str("web_url"),
    )
    key = resolved_at.isoformat() if resolved_at else None
    return incident_events(
        delivery, service=rules.service(path), facts=facts, resolved_at=resolved_at, resolution_key=key
    )
