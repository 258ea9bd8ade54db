"""API objects -> raw deliveries: the pure half of the importers.

An imported fact is kept as a raw delivery of its own kind (delivery id `import:<source>:...`,
header `x-metricsync-import`), so `rebuild` re-derives it like a webhook. Where the webhook carries
the very objects the REST API returns (GitHub embeds its REST `deployment`, `deployment_status`,
`issue` and `pull_request` representations in its webhooks), the record is the webhook's envelope
around the API's objects and the webhook's own mapper maps it: the same facts get the same event
ids, so importing after webhooks, webhooks after importing, or importing twice count once.
Commits have no such twin (a push webhook is not a REST object): the commits a deployment first
shipped come from the compare API as a record of their own (`COMPARE_EVENT`), mapped like a push
from the previous deployment's sha to this one's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from normalizer.alert_labels import label_fingerprint
from normalizer.timeparse import rfc3339
from schemas.raw import RawDelivery
from schemas.sources import GITHUB_IMPORT_COMPARE, JENKINS_IMPORT_BUILD, PROMETHEUS_IMPORT_ALERT, Source

IMPORT_HEADER = "x-metricsync-import"


def _record(
    source: Source, kind: str, ident: str, event_type: str, key: str, body: dict[str, Any], received_at: datetime
) -> RawDelivery:
    return RawDelivery(
        delivery_id=f"import:{source}:{kind}:{ident}",
        source=source,
        event_type=event_type,
        key=key,
        received_at=received_at,
        headers={IMPORT_HEADER: f"{source}-api"},
        body=orjson.dumps(body),
    )


def _repository(full_name: str) -> dict[str, str]:
    return {"full_name": full_name}


def github_deployment_status(
    repo: str, deployment: dict[str, Any], status: dict[str, Any], received_at: datetime
) -> RawDelivery:
    """One status of one deployment, as the `deployment_status` webhook would carry it."""
    body = {
        "action": "created",
        "deployment_status": status,
        "deployment": deployment,
        "repository": _repository(repo),
    }
    return _record(
        Source.GITHUB,
        "deployment_status",
        f"{repo.lower()}/{status['id']}",
        "deployment_status",
        repo.lower(),
        body,
        received_at,
    )


def github_issue(repo: str, issue: dict[str, Any], received_at: datetime) -> RawDelivery:
    """An issue as the `issues` webhook would carry it (its state tells opened or closed). The id
    includes `closed_at`, so an issue closed again after a re-opening is a new record."""
    closed = issue.get("state") == "closed"
    body = {"action": "closed" if closed else "opened", "issue": issue, "repository": _repository(repo)}
    ident = f"{repo.lower()}/{issue['id']}@{issue.get('closed_at') or 'open'}"
    return _record(Source.GITHUB, "issue", ident, "issues", repo.lower(), body, received_at)


def github_pull_request(repo: str, pull: dict[str, Any], received_at: datetime) -> RawDelivery:
    """A merged pull request as the `pull_request` webhook's `closed` action carries it."""
    body = {"action": "closed", "pull_request": pull, "repository": _repository(repo)}
    return _record(
        Source.GITHUB, "pull_request", f"{repo.lower()}/{pull['id']}", "pull_request", repo.lower(), body, received_at
    )


def github_compare(
    repo: str, ref: str, base: str | None, head: str, commits: list[dict[str, Any]], received_at: datetime
) -> RawDelivery:
    """The commits between two deployed shas (oldest first, as the compare API lists them); `base`
    None: the first deployment known, whose commits come from the commits API."""
    body = {"repository": _repository(repo), "ref": ref, "base": base, "head": head, "commits": commits}
    return _record(
        Source.GITHUB,
        "compare",
        f"{repo.lower()}/{base or 'root'}...{head}",
        GITHUB_IMPORT_COMPARE,
        repo.lower(),
        body,
        received_at,
    )


def jenkins_build(
    job: dict[str, str], build: dict[str, Any], previous_commit: str | None, received_at: datetime
) -> RawDelivery:
    """A finished build as Jenkins' JSON API shows it, with its job and the commit of the build before."""
    body = {"job": job, "build": build, "previous_commit": previous_commit}
    key = job["url"].lower()
    return _record(Source.JENKINS, "build", f"{key}#{build['number']}", JENKINS_IMPORT_BUILD, key, body, received_at)


def prometheus_alert_run(
    labels: dict[str, str], first: datetime, last: datetime, step_seconds: int, ongoing: bool, received_at: datetime
) -> RawDelivery:
    """One firing run of an `ALERTS` series (normalizer/prometheus_alerts.py). An ongoing run stored
    again once it ended is a new record (its id has the end), which resolves the incident."""
    fingerprint = label_fingerprint(labels)
    body = {
        "labels": labels,
        "first_sample": rfc3339(first),
        "last_sample": rfc3339(last),
        "step_seconds": step_seconds,
        "ongoing": ongoing,
    }
    ident = f"{fingerprint}@{rfc3339(first)}/{'ongoing' if ongoing else rfc3339(last)}"
    return _record(Source.ALERTMANAGER, "alert", ident, PROMETHEUS_IMPORT_ALERT, fingerprint, body, received_at)


def gitlab_record(
    project: str, kind: str, ident: str, event_type: str, body: dict[str, Any], received_at: datetime
) -> RawDelivery:
    """A GitLab REST object (normalizer/gitlab_api.py) with the project it belongs to."""
    full = {"project": {"path_with_namespace": project}, **body}
    return _record(Source.GITLAB, kind, f"{project.lower()}/{ident}", event_type, project.lower(), full, received_at)
