"""The headers a webhook's sender authenticates with, as each tool sends them: GitHub's HMAC-SHA256
signature over the body, the Jenkins Notification Plugin's basic auth (from the endpoint URL),
GitLab's `X-Gitlab-Token`, PagerDuty's V3 HMAC signature, and the bearer tokens of Alertmanager,
Opsgenie, CDEvents sinks and the push API. No secret is logged or returned anywhere but in these
headers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from schemas.sources import Source

if TYPE_CHECKING:
    from ingest.config import IngestConfig

JENKINS_USER = "jenkins"


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the receiving MetricSync verifies with (None: that source is not verified). The fields are
    `IngestConfig`'s secret fields, by the same names (`METRICSYNC_<FIELD>`)."""

    github_secret: str | None = None
    jenkins_token: str | None = None
    alertmanager_token: str | None = None
    gitlab_token: str | None = None
    pagerduty_secret: str | None = None
    opsgenie_token: str | None = None
    cdevents_token: str | None = None
    push_token: str | None = None

    @classmethod
    def of(cls, config: IngestConfig) -> Credentials:
        """The secrets an ingest config verifies with: sign as the server that reads the same settings."""
        values = {}
        for item in fields(cls):
            secret = getattr(config, item.name)
            values[item.name] = None if secret is None else secret.get_secret_value()
        return cls(**values)

    def env(self) -> dict[str, str]:
        """The environment variables (`METRICSYNC_<FIELD>`) a server verifying with these reads."""
        return {
            f"METRICSYNC_{item.name.upper()}": value
            for item in fields(self)
            if (value := getattr(self, item.name)) is not None
        }


def github_signature(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub sends for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def pagerduty_signature(secret: str, body: bytes) -> str:
    """The `X-PagerDuty-Signature` value PagerDuty (V3 webhooks) sends for `body`."""
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery_id(body: bytes) -> str:
    """A stable delivery id (a UUID) for a body: the same body is the same delivery."""
    return str(uuid.UUID(bytes=hashlib.sha256(body).digest()[:16]))


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _bearer_token(source: Source, credentials: Credentials) -> str | None:
    match source:
        case Source.ALERTMANAGER:
            return credentials.alertmanager_token
        case Source.OPSGENIE:
            return credentials.opsgenie_token
        case Source.CDEVENTS:
            return credentials.cdevents_token
        case Source.PUSH:
            return credentials.push_token
        case _:
            return None


def signed_headers(
    source: Source,
    body: bytes,
    credentials: Credentials,
    headers: Mapping[str, str] | None = None,
    content_type: str = "application/json",
) -> dict[str, str]:
    """The request headers of `body` sent by `source`: `headers` (e.g. `X-GitHub-Event`) plus content
    type, delivery id and authentication. A GitHub, GitLab or PagerDuty delivery without its delivery
    id header gets the body's stable id."""
    out = {"Content-Type": content_type, **(headers or {})}
    if source is Source.GITHUB:
        out.setdefault("X-GitHub-Delivery", delivery_id(body))
        if credentials.github_secret is not None:
            out["X-Hub-Signature-256"] = github_signature(credentials.github_secret, body)
    elif source is Source.JENKINS:
        if credentials.jenkins_token is not None:  # the Notification Plugin sends basic auth from its URL
            out["Authorization"] = basic_auth(JENKINS_USER, credentials.jenkins_token)
    elif source is Source.GITLAB:
        out.setdefault("X-Gitlab-Event-UUID", delivery_id(body))
        if credentials.gitlab_token is not None:
            out["X-Gitlab-Token"] = credentials.gitlab_token
    elif source is Source.PAGERDUTY:
        out.setdefault("X-Webhook-Id", delivery_id(body))
        if credentials.pagerduty_secret is not None:
            out["X-PagerDuty-Signature"] = pagerduty_signature(credentials.pagerduty_secret, body)
    elif (token := _bearer_token(source, credentials)) is not None:
        out["Authorization"] = f"Bearer {token}"
    return out
