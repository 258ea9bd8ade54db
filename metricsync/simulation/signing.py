"""The headers a webhook's sender authenticates with, as each tool sends them: GitHub's HMAC-SHA256
signature over the body, the Jenkins Notification Plugin's basic auth (from the endpoint URL),
Alertmanager's bearer token. No secret is logged or returned anywhere but in these headers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from schemas.sources import Source

JENKINS_USER = "jenkins"


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the receiving MetricSync verifies with (None: that source is not verified)."""

    github_secret: str | None = None
    jenkins_token: str | None = None
    alertmanager_token: str | None = None


def github_signature(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub sends for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github_delivery_id(body: bytes) -> str:
    """A stable `X-GitHub-Delivery` (a UUID) for a body: the same body is the same delivery."""
    return str(uuid.UUID(bytes=hashlib.sha256(body).digest()[:16]))


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def signed_headers(
    source: Source,
    body: bytes,
    credentials: Credentials,
    headers: Mapping[str, str] | None = None,
    content_type: str = "application/json",
) -> dict[str, str]:
    """The request headers of `body` sent by `source`: `headers` (e.g. `X-GitHub-Event`) plus content
    type and authentication. A GitHub delivery without `X-GitHub-Delivery` gets the body's stable id."""
    out = {"Content-Type": content_type, **(headers or {})}
    if source is Source.GITHUB:
        out.setdefault("X-GitHub-Delivery", github_delivery_id(body))
        if credentials.github_secret is not None:
            out["X-Hub-Signature-256"] = github_signature(credentials.github_secret, body)
    elif source is Source.JENKINS:
        if credentials.jenkins_token is not None:  # the Notification Plugin sends basic auth from its URL
            out["Authorization"] = basic_auth(JENKINS_USER, credentials.jenkins_token)
    elif source is Source.ALERTMANAGER and credentials.alertmanager_token is not None:
        out["Authorization"] = f"Bearer {credentials.alertmanager_token}"
    return out
