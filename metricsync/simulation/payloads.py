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
NEVER = "0001-01-01T00:00:00Z"  # Alertmanager's endsAt of a firing alert


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
) -> Document:
    """A push of `commits` (oldest first) to refs/heads/main. Optional fields keep the template's
    value when None."""
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
    body.update(before=before, after=after, commits=entries, head_commit=entries[-1], ref="refs/heads/main")
    _set(body, created=created, compare=compare)
    body["repository"]["full_name"] = repo
    _set(body["repository"], name=name, pushed_at=pushed_at)
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


def _set(target: Document, **values: Value | None) -> None:
    for key, value in values.items():
        if value is not None:
            target[key] = value
