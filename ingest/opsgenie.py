"""Opsgenie outgoing webhooks (the Webhook integration): a shared token, sent as
`Authorization: Bearer <token>` (a custom header in the integration) or as the password of the
integration's basic auth. Opsgenie sends no delivery id: it is derived from `alert.alertId` and
`action` (Create and Close happen once per alert), plus a digest of the body for the other actions
(notes, acknowledgements repeat). Ordering key: the alert id."""

from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from ingest.auth import Verifier, bearer_or_basic, secret_verifier
from ingest.errors import BadRequest
from ingest.identity import MAX_HEADER_VALUE, Identity
from ingest.sender import Sender
from schemas.ids import body_digest, stable_id
from schemas.sources import OPSGENIE_MAPPED_ACTIONS, Source

TOKEN_VAR = "METRICSYNC_OPSGENIE_TOKEN"
_FIX = "send Opsgenie's Webhook integration body unchanged (Add Alert Description/Details on is fine)"


def _short_str(value: object) -> str | None:
    if isinstance(value, str) and value.strip() and len(value) <= MAX_HEADER_VALUE:
        return value.strip()
    return None


def opsgenie_identity(headers: Mapping[str, str], payload: Any, body: bytes) -> Identity:
    action = _short_str(payload.get("action"))
    alert = payload.get("alert")
    alert_id = _short_str(alert.get("alertId")) if isinstance(alert, dict) else None
    if action is None or alert_id is None:
        missing = [name for name, value in (("action", action), ("alert.alertId", alert_id)) if value is None]
        raise BadRequest(
            "missing_fields",
            f"The Opsgenie webhook cannot be identified: {', '.join(missing)} missing or not a short string; {_FIX}.",
        )
    mapped = action in OPSGENIE_MAPPED_ACTIONS
    delivery_id = (
        stable_id("opsgenie", alert_id, action)
        if mapped
        else stable_id("opsgenie", alert_id, action, body_digest(body))
    )
    return Identity(f"opsgenie:{delivery_id}", action, alert_id, mapped)


def opsgenie_verifier(token: SecretStr | None, *, allow_unsigned: bool) -> Verifier:
    return secret_verifier(
        token,
        allow_unsigned=allow_unsigned,
        sender="Opsgenie",
        variable=TOKEN_VAR,
        make=lambda secret: bearer_or_basic(secret, sender="Opsgenie", variable=TOKEN_VAR),
    )


def opsgenie_sender(token: SecretStr | None, *, allow_unsigned: bool) -> Sender:
    return Sender(
        Source.OPSGENIE,
        "/webhooks/opsgenie",
        opsgenie_verifier(token, allow_unsigned=allow_unsigned),
        opsgenie_identity,
    )
