"""GitLab webhooks: `X-Gitlab-Token` (the hook's secret token, compared in constant time; GitLab has
no HMAC), the event in `X-Gitlab-Event`, the project path as ordering key.

Delivery id, first present of: `Idempotency-Key` (GitLab 17.4+, kept across retries of one
delivery), `X-Gitlab-Event-UUID` (one per event), else a digest of event type and body (older GitLab:
a resend of the same body is a duplicate).
"""

from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from ingest.auth import HeaderToken, Verifier, secret_verifier
from ingest.identity import Identity, header, optional_header
from ingest.sender import Sender
from schemas.ids import body_digest, stable_id
from schemas.sources import GITLAB_MAPPED_EVENTS, Source

TOKEN_VAR = "METRICSYNC_GITLAB_TOKEN"
TOKEN_HEADER = "X-Gitlab-Token"
_FIX = "send GitLab's webhook headers unchanged"


def gitlab_key(payload: Mapping[str, Any]) -> str:
    """`project.path_with_namespace` (lower-cased), else the project id, else "gitlab"."""
    project = payload.get("project")
    if isinstance(project, dict):
        path = project.get("path_with_namespace")
        if isinstance(path, str) and path.strip():
            return path.strip().lower()
        project_id = project.get("id")
        if isinstance(project_id, int) and not isinstance(project_id, bool):
            return f"gitlab-project:{project_id}"
    return "gitlab"


def gitlab_identity(headers: Mapping[str, str], payload: Any, body: bytes) -> Identity:
    event = header(headers, "X-Gitlab-Event", _FIX)
    given = optional_header(headers, "Idempotency-Key", _FIX) or optional_header(headers, "X-Gitlab-Event-UUID", _FIX)
    delivery_id = f"gitlab:{given}" if given else f"gitlab:{stable_id(event, body_digest(body))}"
    return Identity(delivery_id, event, gitlab_key(payload), event in GITLAB_MAPPED_EVENTS)


def gitlab_verifier(token: SecretStr | None, *, allow_unsigned: bool) -> Verifier:
    return secret_verifier(
        token,
        allow_unsigned=allow_unsigned,
        sender="GitLab",
        variable=TOKEN_VAR,
        make=lambda secret: HeaderToken(secret, header=TOKEN_HEADER, sender="GitLab", variable=TOKEN_VAR),
    )


def gitlab_sender(token: SecretStr | None, *, allow_unsigned: bool) -> Sender:
    return Sender(
        Source.GITLAB,
        "/webhooks/gitlab",
        gitlab_verifier(token, allow_unsigned=allow_unsigned),
        gitlab_identity,
        delivery_header="x-gitlab-event-uuid",
    )
