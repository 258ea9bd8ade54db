"""Signed webhook requests built from the real payloads in tests/fixtures, changing values only.

Shaped and signed by the simulator's generator (metricsync.simulation.payloads and .signing), on the
fixtures of tests/fixtures. The same builders feed the embedded and the distributed end-to-end
tests, so both modes see the same stream. Times are aware datetimes; shas are 40-hex strings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from metricsync.simulation import payloads
from metricsync.simulation.payloads import iso
from metricsync.simulation.send import sign
from metricsync.simulation.signing import Credentials, delivery_id, signed_headers
from metricsync.simulation.team import Webhook
from schemas.sources import Source

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

GITHUB_SECRET = "e2e-github-secret"
JENKINS_TOKEN = "e2e-jenkins-token"
ALERTMANAGER_TOKEN = "e2e-alertmanager-token"
GITLAB_TOKEN = "e2e-gitlab-token"
PAGERDUTY_SECRET = "e2e-pagerduty-secret"
OPSGENIE_TOKEN = "e2e-opsgenie-token"
CDEVENTS_TOKEN = "e2e-cdevents-token"
PUSH_TOKEN = "e2e-push-token"

# every source verified (the other sources' requests come from `metricsync simulate --sources`)
CREDENTIALS = Credentials(
    github_secret=GITHUB_SECRET,
    jenkins_token=JENKINS_TOKEN,
    alertmanager_token=ALERTMANAGER_TOKEN,
    gitlab_token=GITLAB_TOKEN,
    pagerduty_secret=PAGERDUTY_SECRET,
    opsgenie_token=OPSGENIE_TOKEN,
    cdevents_token=CDEVENTS_TOKEN,
    push_token=PUSH_TOKEN,
)
SECRETS_ENV = CREDENTIALS.env()  # METRICSYNC_<FIELD> of each secret, as the servers under test read them


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes


def signed(hooks: Iterable[Webhook], credentials: Credentials = CREDENTIALS) -> list[Request]:
    """The simulator's webhooks as requests, signed with `credentials`."""
    return [Request(hook.path, sign(hook, credentials), hook.body) for hook in hooks]


def _fixture(relative: str) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((FIXTURES / relative).read_bytes())
    return data


def sha_of(label: str) -> str:
    """A stable 40-hex sha for a readable label ("c1", "c2", ...)."""
    return hashlib.sha1(label.encode()).hexdigest()


def _github(event: str, body: dict[str, Any], delivery: str | None = None) -> Request:
    raw = orjson.dumps(body)
    return signed_github(raw, event, delivery or delivery_id(raw))


def signed_github(raw: bytes, event: str, delivery: str) -> Request:
    """A GitHub webhook of these exact body bytes, signed with GITHUB_SECRET."""
    extra = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "User-Agent": "GitHub-Hookshot/e2e"}
    return Request("/webhooks/github", signed_headers(Source.GITHUB, raw, CREDENTIALS, extra), raw)


def github_push(repo: str, before: str, commits: list[tuple[str, datetime]]) -> Request:
    """A push of `commits` (sha, commit time), oldest first, on top of `before`."""
    body = payloads.github_push(
        _fixture("github/push__single_commit.json"),
        repo=repo,
        before=before,
        after=commits[-1][0],
        commits=[payloads.Commit(sha, at.astimezone(UTC).isoformat()) for sha, at in commits],
    )
    return _github("push", body)


def github_deployment(
    repo: str, deployment_id: int, sha: str, at: datetime, state: str = "success", environment: str = "production"
) -> Request:
    body = payloads.github_deployment_status(
        _fixture("github/deployment_status__success.json"),
        repo=repo,
        deployment_id=deployment_id,
        status_id=deployment_id * 10,
        sha=sha,
        state=state,
        created=iso(at),
        updated=iso(at),
        environment=environment,
    )
    return _github("deployment_status", body)


def jenkins_deploy(
    service: str, job: str, number: int, sha: str, finished: datetime, status: str = "SUCCESS", phase: str = "COMPLETED"
) -> Request:
    body = payloads.jenkins_build(
        _fixture("jenkins/notification__finalized_scm_artifacts__gitter.json")["body"],
        job=job,
        number=number,
        phase=phase,
        status=status,
        timestamp_ms=int(finished.timestamp() * 1000),
        duration_ms=None,
        service=service,
        sha=sha,
        host="jenkins.e2e:8080",
    )
    raw = orjson.dumps(body)
    headers = signed_headers(Source.JENKINS, raw, CREDENTIALS, content_type="application/json;charset=UTF-8")
    return Request("/webhooks/jenkins", headers, raw)


def alert(
    service: str, fingerprint: str, starts: datetime, ends: datetime | None, severity: str = "critical"
) -> Request:
    """One Alertmanager notification carrying one alert: firing when `ends` is None, else resolved."""
    status = "firing" if ends is None else "resolved"
    body = payloads.alertmanager_alert(
        _fixture("alertmanager/webhook_v4__resolved_single_full.json"),
        status=status,
        service=service,
        fingerprint=fingerprint,
        starts=iso(starts),
        ends=payloads.NEVER if ends is None else iso(ends),
        summary=f"5xx rate above 5% on {service}",
        group_key='{}:{alertname="HighErrorRate", service="' + service + '"}',
        severity=severity,
    )
    raw = orjson.dumps(body)
    return Request("/webhooks/alertmanager", signed_headers(Source.ALERTMANAGER, raw, CREDENTIALS), raw)


def signed_request(
    source: Source, path: str, raw: bytes, headers: dict[str, str] | None = None, **kwargs: str
) -> Request:
    """A request of `source` to `path` carrying these exact body bytes, authenticated as that sender does
    (with the shared CREDENTIALS); `content_type=` overrides application/json."""
    return Request(path, signed_headers(source, raw, CREDENTIALS, headers, **kwargs), raw)
