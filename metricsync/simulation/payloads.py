"""How each webhook body is shaped from a real third-party payload, changing values only.

Each function takes the template document (a parsed real payload: the packaged ones of
metricsync/templates, or a test fixture) and returns a new document with the values given. The
values may be placeholders: the benchmarks pass `metricsync.simulation.workload.slot(...)` strings and render the
result by joining byte slices, so a benchmark body has exactly the shape `metricsync simulate` sends.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import orjson

Value = str | int | bool  # a value, or a placeholder string standing for one
Document = dict[str, Any]

PUSH = "push__single_commit.json"
DEPLOYMENT_STATUS = "deployment_status__success.json"
JENKINS = "jenkins_notification__finalized_scm.json"
ALERTMANAGER = "webhook_v4__resolved_single_full.json"
PULL_REQUEST = "pull_request__opened.json"  # opened, ready_for_review
PULL_REQUEST_CLOSED = "pull_request__closed_not_merged.json"  # closed (made a merge by its values)
PULL_REQUEST_REVIEW = "pull_request_review__submitted.json"
NEVER = "0001-01-01T00:00:00Z"  # Alertmanager's endsAt of a firing alert
# the other sources' (`metricsync simulate --sources`)
GITLAB_PUSH = "gitlab_push_hook.json"
GITLAB_DEPLOYMENT = "gitlab_deployment_hook__success.json"
GITLAB_INCIDENT = "gitlab_issue_hook__incident_closed.json"
PAGERDUTY = "pagerduty_incident_triggered__v3.json"
OPSGENIE_CREATE = "opsgenie_alert_create.json"
OPSGENIE_CLOSE = "opsgenie_alert_close.json"
CDEVENTS_DEPLOYED = "cdevents_service_deployed.json"
CDEVENTS_INCIDENT_DETECTED = "cdevents_incident_detected.json"
CDEVENTS_INCIDENT_RESOLVED = "cdevents_incident_resolved.json"


def template(name: str) -> Document:
    """One of the packaged real payloads (metricsync/templates, provenance in its README)."""
    data: Document = orjson.loads(resources.files("metricsync.templates").joinpath(name).read_bytes())
    return data


def iso(moment: datetime) -> str:
    """The second-precision UTC timestamp GitHub and Alertmanager send."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Commit:
    sha: Value
    timestamp: Value  # ISO 8601 with offset, as GitHub sends it
    tree: Value | None = None  # None: the template's
    url: Value | None = None  # None: the template's


def github_push(
    tpl: Document,
    *,
    repo: Value,
    before: Value,
    after: Value,
    commits: Sequence[Commit],
    name: Value | None = None,
    created: Value | None = None,
    compare: Value | None = None,
    pushed_at: Value | None = None,
    ref: Value = "refs/heads/main",
) -> Document:
    """A push of `commits` (oldest first) to `ref` (main by default). Optional fields keep the
    template's value when None."""
    body = copy.deepcopy(tpl)
    entries = []
    for commit in commits:
        entry = copy.deepcopy(tpl["commits"][0])
        entry.update(id=commit.sha, timestamp=commit.timestamp, message="Work", distinct=True)
        if commit.tree is not None:
            entry["tree_id"] = commit.tree
        if commit.url is not None:
            entry["url"] = commit.url
        entries.append(entry)
    body.update(before=before, after=after, commits=entries, head_commit=entries[-1], ref=ref)
    _set(body, created=created, compare=compare)
    body["repository"]["full_name"] = repo
    _set(body["repository"], name=name, pushed_at=pushed_at)
    return body


@dataclass(frozen=True, slots=True)
class PullRequest:
    """A pull request's values as its deliveries carry them (`pull_request` of a `pull_request` or
    `pull_request_review` delivery)."""

    repo: str  # owner/name
    pr_id: int
    number: int
    title: str
    author: str
    bot: bool  # the author is a bot account (dependabot)
    branch: str
    head_sha: str
    created: str  # ISO 8601


def _pull_request(body: Document, pr: PullRequest, updated: str, draft: bool) -> None:
    owner, name = pr.repo.split("/", 1)
    fields = body["pull_request"]
    fields.update(
        id=pr.pr_id,
        number=pr.number,
        html_url=f"https://github.com/{pr.repo}/pull/{pr.number}",
        url=f"https://api.github.com/repos/{pr.repo}/pulls/{pr.number}",
        created_at=pr.created,
        updated_at=updated,
        draft=draft,
        title=pr.title,
    )
    fields["user"].update(login=pr.author, type="Bot" if pr.bot else "User")
    fields["head"].update(ref=pr.branch, sha=pr.head_sha, label=f"{owner}:{pr.branch}")
    fields["base"].update(ref="main", label=f"{owner}:main")
    if "number" in body:
        body["number"] = pr.number
    body["repository"].update(full_name=pr.repo, name=name)


def github_pull_request(
    tpl: Document,
    *,
    pr: PullRequest,
    action: str,
    updated: str,
    draft: bool = False,
    merged: tuple[str, str] | None = None,
) -> Document:
    """A `pull_request` delivery (`action`: opened, ready_for_review, closed); `merged`: (merged_at,
    merge_commit_sha) of a closed PR that was merged. Templates: PULL_REQUEST for opened and
    ready_for_review, PULL_REQUEST_CLOSED for closed."""
    body = copy.deepcopy(tpl)
    body["action"] = action
    _pull_request(body, pr, updated, draft)
    if merged is not None:
        merged_at, merge_sha = merged
        body["pull_request"].update(
            state="closed", merged=True, merged_at=merged_at, closed_at=merged_at, merge_commit_sha=merge_sha
        )
    return body


def github_review(
    tpl: Document, *, pr: PullRequest, review_id: int, reviewer: str, submitted: str, state: str = "approved"
) -> Document:
    """A `pull_request_review` delivery (submitted) of `pr`'s head commit by `reviewer`."""
    body = copy.deepcopy(tpl)
    _pull_request(body, pr, submitted, False)
    body["review"].update(
        id=review_id,
        state=state,
        submitted_at=submitted,
        commit_id=pr.head_sha,
        html_url=f"https://github.com/{pr.repo}/pull/{pr.number}#pullrequestreview-{review_id}",
    )
    body["review"]["user"].update(login=reviewer, type="User")
    return body


def github_deployment_status(
    tpl: Document,
    *,
    repo: Value,
    deployment_id: Value,
    status_id: Value,
    sha: Value,
    state: Value,
    created: Value,
    updated: Value,
    environment: Value = "production",
    name: Value | None = None,
) -> Document:
    """A deployment_status of a deployment of `sha` from main, created at `created`, in `state` at `updated`."""
    body = copy.deepcopy(tpl)
    body["deployment"].update(
        id=deployment_id,
        sha=sha,
        ref="main",
        environment=environment,
        original_environment=environment,
        created_at=created,
        updated_at=updated,
    )
    body["deployment_status"].update(
        id=status_id, state=state, environment=environment, created_at=updated, updated_at=updated
    )
    body["repository"]["full_name"] = repo
    _set(body["repository"], name=name)
    return body


def jenkins_build(
    tpl: Document,
    *,
    job: Value,
    number: Value,
    phase: str,
    status: Value | None,
    timestamp_ms: Value,
    duration_ms: Value | None,
    service: Value,
    sha: Value,
    host: str = "jenkins.acme.test:8080",
    scm_url: Value | None = None,
    job_url: Value | None = None,
    build_url: Value | None = None,
    full_url: Value | None = None,
) -> Document:
    """One Notification Plugin message (STARTED, COMPLETED, FINALIZED) of build `number` of `job`,
    a production deploy of `sha` for `service` (`status` None: no status, as in STARTED; `duration_ms`
    None: the template's, if any)."""
    body = copy.deepcopy(tpl)
    body.update(name=job, url=job_url if job_url is not None else f"job/{job}/")
    build = body["build"]
    build.update(
        full_url=full_url if full_url is not None else f"http://{host}/job/{job}/{number}/",
        number=number,
        phase=phase,
        url=build_url if build_url is not None else f"job/{job}/{number}/",
        timestamp=timestamp_ms,
        parameters={"SERVICE": service, "ENVIRONMENT": "production"},
    )
    _set(build, duration=duration_ms)
    build["scm"].update(
        url=scm_url if scm_url is not None else f"git@github.com:{service}.git", branch="origin/main", commit=sha
    )
    build.pop("artifacts", None)
    if status is None:
        build.pop("status", None)
    else:
        build["status"] = status
    return body


def alertmanager_alert(
    tpl: Document,
    *,
    status: Value,
    service: Value,
    fingerprint: Value,
    starts: Value,
    ends: Value,
    summary: Value,
    group_key: Value,
    severity: Value = "critical",
) -> Document:
    """A v4 notification carrying one HighErrorRate alert of `service` (`ends` is NEVER while firing)."""
    body = copy.deepcopy(tpl)
    labels = {"alertname": "HighErrorRate", "service": service, "severity": severity, "namespace": "prod"}
    annotations = {"summary": summary}
    body["alerts"][0].update(
        status=status, labels=labels, fingerprint=fingerprint, startsAt=starts, endsAt=ends, annotations=annotations
    )
    body.update(
        status=status,
        commonLabels=labels,
        commonAnnotations=annotations,
        groupLabels={"alertname": "HighErrorRate"},
        groupKey=group_key,
    )
    return body


def gitlab_time(moment: datetime) -> str:
    """The timestamp format of GitLab's deployment hooks (`2021-04-28 21:50:00 +0200`)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S +0000")


def _gitlab_project(body: Document, repo: str, project_id: int) -> None:
    body["project"].update(
        id=project_id,
        name=repo.split("/")[1],
        path_with_namespace=repo,
        web_url=f"https://gitlab.example/{repo}",
        default_branch="main",
    )
    if "project_id" in body:
        body["project_id"] = project_id


def gitlab_push(
    tpl: Document, *, repo: str, project_id: int, before: str, after: str, commits: Sequence[Commit]
) -> Document:
    """A GitLab Push Hook of `commits` (oldest first) to refs/heads/main of project `repo`."""
    body = copy.deepcopy(tpl)
    entries = []
    for commit in commits:
        entry = copy.deepcopy(tpl["commits"][0])
        entry.update(id=commit.sha, timestamp=commit.timestamp, message="Work\n")
        if commit.url is not None:
            entry["url"] = commit.url
        entries.append(entry)
    body.update(before=before, after=after, checkout_sha=after, commits=entries, total_commits_count=len(entries))
    body["ref"] = "refs/heads/main"
    _gitlab_project(body, repo, project_id)
    return body


def gitlab_deployment(
    tpl: Document,
    *,
    repo: str,
    project_id: int,
    deployment_id: int,
    deployable_id: int,
    sha: str,
    status: str,
    at: datetime,
) -> Document:
    """A GitLab Deployment Hook: deployment `deployment_id` of `sha` to production, `status` at `at`."""
    body = copy.deepcopy(tpl)
    body.update(
        status=status,
        status_changed_at=gitlab_time(at),
        deployment_id=deployment_id,
        deployable_id=deployable_id,
        environment="production",
        environment_slug="production",
        environment_tier="production",
        short_sha=sha[:8],
        commit_url=f"https://gitlab.example/{repo}/-/commit/{sha}",
        ref="main",
    )
    _gitlab_project(body, repo, project_id)
    return body


def gitlab_incident_issue(
    tpl: Document,
    *,
    repo: str,
    project_id: int,
    issue_id: int,
    action: str,
    created: str,
    updated: str,
    closed: str | None,
    title: str,
) -> Document:
    """A GitLab Issue Hook of an incident issue, opened (`action` "open") or closed ("close")."""
    body = copy.deepcopy(tpl)
    body["object_attributes"].update(
        id=issue_id,
        iid=issue_id % 1000,
        action=action,
        state="opened" if action == "open" else "closed",
        created_at=created,
        updated_at=updated,
        closed_at=closed,
        title=title,
        description="Incident was observed.",
    )
    _gitlab_project(body, repo, project_id)
    return body


def pagerduty_incident(
    tpl: Document,
    *,
    event_id: str,
    event_type: str,
    occurred: str,
    incident_id: str,
    service: str,
    service_id: str,
    title: str,
) -> Document:
    """A PagerDuty V3 webhook event (`incident.triggered`, `incident.resolved`) of a high-urgency incident."""
    body = copy.deepcopy(tpl)
    event = body["event"]
    event.update(id=event_id, event_type=event_type, occurred_at=occurred)
    event["data"].update(
        id=incident_id,
        status=event_type.rpartition(".")[2],
        title=title,
        urgency="high",
        html_url=f"https://acme.pagerduty.com/incidents/{incident_id}",
    )
    event["data"]["service"].update(summary=service, id=service_id)
    return body


def opsgenie_alert(
    tpl: Document, *, alert_id: str, message: str, tags: list[str], created_ms: int, updated_ns: int
) -> Document:
    """An Opsgenie alert webhook (the template's action: Create or Close) of a P1 alert."""
    body = copy.deepcopy(tpl)
    body["alert"].update(
        alertId=alert_id, message=message, tags=tags, createdAt=created_ms, updatedAt=updated_ns, priority="P1"
    )
    return body


def cdevent(tpl: Document, *, event_id: str, source: str, timestamp: str, subject_id: str) -> Document:
    """A CDEvent of the template's type from `source` about subject `subject_id` (no links, no chain)."""
    body = copy.deepcopy(tpl)
    body["context"].update(id=event_id, source=source, timestamp=timestamp)
    body["context"].pop("links", None)
    body["context"].pop("chainId", None)
    body["subject"].update(id=subject_id, source=source)
    return body


def push_deployment(*, deployment_id: str, service: str, finished: str, sha: str) -> Document:
    """A deployment in the push API's own shape (schemas/push_api.py)."""
    return {"id": deployment_id, "service": service, "environment": "production", "finished_at": finished, "sha": sha}


def push_incident(*, incident_id: str, service: str, started: str, title: str, resolved: str | None) -> Document:
    """An incident in the push API's own shape, resolved when `resolved` is given."""
    body: Document = {"id": incident_id, "service": service, "started_at": started, "title": title}
    if resolved is not None:
        body["resolved_at"] = resolved
    return body


def _set(target: Document, **values: Value | None) -> None:
    for key, value in values.items():
        if value is not None:
            target[key] = value
