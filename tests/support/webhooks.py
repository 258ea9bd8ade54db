"""Signed webhook requests built from the real payloads in tests/fixtures, changing values only.

The same builders feed the embedded and the distributed end-to-end tests, so both modes see the
same stream. Times are aware datetimes; shas are 40-hex strings.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

GITHUB_SECRET = "e2e-github-secret"
JENKINS_TOKEN = "e2e-jenkins-token"
ALERTMANAGER_TOKEN = "e2e-alertmanager-token"

# the other sources' secrets (their requests come from `metricsync simulate --sources`)
OTHER_SECRETS = {
    "gitlab_token": "e2e-gitlab-token",
    "pagerduty_secret": "e2e-pagerduty-secret",
    "opsgenie_token": "e2e-opsgenie-token",
    "cdevents_token": "e2e-cdevents-token",
    "push_token": "e2e-push-token",
}
SECRETS_ENV = {
    "METRICSYNC_GITHUB_SECRET": GITHUB_SECRET,
    "METRICSYNC_JENKINS_TOKEN": JENKINS_TOKEN,
    "METRICSYNC_ALERTMANAGER_TOKEN": ALERTMANAGER_TOKEN,
    **{f"METRICSYNC_{name.upper()}": value for name, value in OTHER_SECRETS.items()},
}


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes


def _fixture(relative: str) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((FIXTURES / relative).read_bytes())
    return data


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sha_of(label: str) -> str:
    """A stable 40-hex sha for a readable label ("c1", "c2", ...)."""
    return hashlib.sha1(label.encode()).hexdigest()


def _github(event: str, body: dict[str, Any], delivery: str | None = None) -> Request:
    raw = orjson.dumps(body)
    return signed_github(raw, event, delivery or str(uuid.UUID(bytes=hashlib.sha256(raw).digest()[:16])))


def signed_github(raw: bytes, event: str, delivery: str) -> Request:
    """A GitHub webhook of these exact body bytes, signed with GITHUB_SECRET."""
    signature = hmac.new(GITHUB_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return Request(
        "/webhooks/github",
        {
            "Content-Type": "application/json",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": f"sha256={signature}",
            "User-Agent": "GitHub-Hookshot/e2e",
        },
        raw,
    )


def github_push(repo: str, before: str, commits: list[tuple[str, datetime]]) -> Request:
    """A push of `commits` (sha, commit time), oldest first, on top of `before`."""
    body = _fixture("github/push__single_commit.json")
    template = body["commits"][0]
    entries = []
    for sha, at in commits:
        entry = copy.deepcopy(template)
        entry.update(id=sha, timestamp=at.astimezone(UTC).isoformat(), distinct=True)
        entries.append(entry)
    body.update(before=before, after=commits[-1][0], commits=entries, head_commit=entries[-1])
    body["ref"] = "refs/heads/main"
    body["repository"]["full_name"] = repo
    return _github("push", body)


def github_deployment(
    repo: str, deployment_id: int, sha: str, at: datetime, state: str = "success", environment: str = "production"
) -> Request:
    body = _fixture("github/deployment_status__success.json")
    body["deployment"].update(id=deployment_id, sha=sha, environment=environment, created_at=_iso(at))
    body["deployment_status"].update(id=deployment_id * 10, state=state, created_at=_iso(at), updated_at=_iso(at))
    body["repository"]["full_name"] = repo
    return _github("deployment_status", body)


def jenkins_deploy(
    service: str, job: str, number: int, sha: str, finished: datetime, status: str = "SUCCESS", phase: str = "COMPLETED"
) -> Request:
    body = _fixture("jenkins/notification__finalized_scm_artifacts__gitter.json")["body"]
    body.update(name=job, url=f"job/{job}/")
    build = body["build"]
    build.update(
        full_url=f"http://jenkins.e2e:8080/job/{job}/{number}/",
        number=number,
        phase=phase,
        status=status,
        url=f"job/{job}/{number}/",
        timestamp=int(finished.timestamp() * 1000),
        parameters={"SERVICE": service, "ENVIRONMENT": "production"},
    )
    build["scm"]["commit"] = sha
    raw = orjson.dumps(body)
    auth = base64.b64encode(f"jenkins:{JENKINS_TOKEN}".encode()).decode()
    return Request(
        "/webhooks/jenkins", {"Content-Type": "application/json;charset=UTF-8", "Authorization": f"Basic {auth}"}, raw
    )


def alert(
    service: str, fingerprint: str, starts: datetime, ends: datetime | None, severity: str = "critical"
) -> Request:
    """One Alertmanager notification carrying one alert: firing when `ends` is None, else resolved."""
    body = _fixture("alertmanager/webhook_v4__resolved_single_full.json")
    item = body["alerts"][0]
    labels = {"alertname": "HighErrorRate", "service": service, "severity": severity}
    status = "firing" if ends is None else "resolved"
    item.update(
        status=status,
        labels=labels,
        fingerprint=fingerprint,
        startsAt=_iso(starts),
        endsAt="0001-01-01T00:00:00Z" if ends is None else _iso(ends),
    )
    body.update(status=status, commonLabels=labels, groupLabels={"alertname": "HighErrorRate"})
    return Request(
        "/webhooks/alertmanager",
        {"Content-Type": "application/json", "Authorization": f"Bearer {ALERTMANAGER_TOKEN}"},
        orjson.dumps(body),
    )
