"""PagerDuty Webhooks V3: `X-PagerDuty-Signature` (v1 HMAC-SHA256 of the raw body; several during a
secret rotation), one event per body. Delivery id = `event.id` (unique per event, kept on retries);
event type = `event.event_type`; ordering key = the incident id (`event.data.id`)."""

from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from ingest.auth import HmacSignatures, Verifier, secret_verifier
from ingest.errors import BadRequest
from ingest.identity import MAX_HEADER_VALUE, Identity
from ingest.sender import Sender
from schemas.sources import PAGERDUTY_MAPPED_EVENTS, Source

SECRET_VAR = "METRICSYNC_PAGERDUTY_SECRET"
SIGNATURE_HEADER = "X-PagerDuty-Signature"
_FIX = "send PagerDuty's V3 webhook body unchanged"


def _short_str(value: object) -> str | None:
    if isinstance(value, str) and value.strip() and len(value) <= MAX_HEADER_VALUE:
        return value.strip()
    return None


def pagerduty_identity(headers: Mapping[str, str], payload: Any, body: bytes) -> Identity:
    event = payload.get("event") if isinstance(payload, dict) else None
    if not isinstance(event, dict):
        raise BadRequest("missing_fields", f"The PagerDuty webhook has no 'event' object; {_FIX}.")
    event_id = _short_str(event.get("id"))
    event_type = _short_str(event.get("event_type"))
    missing = [name for name, value in (("event.id", event_id), ("event.event_type", event_type)) if value is None]
    if event_id is None or event_type is None:
        raise BadRequest(
            "missing_fields",
            f"The PagerDuty webhook cannot be identified: {', '.join(missing)} missing or not a short string; {_FIX}.",
        )
    data = event.get("data")
    key = (_short_str(data.get("id")) if isinstance(data, dict) else None) or "pagerduty"
    return Identity(f"pagerduty:{event_id}", event_type, key, event_type in PAGERDUTY_MAPPED_EVENTS)


def pagerduty_verifier(secret: SecretStr | None, *, allow_unsigned: bool) -> Verifier:
    return secret_verifier(
        secret,
        allow_unsigned=allow_unsigned,
        sender="PagerDuty",
        variable=SECRET_VAR,
        make=lambda key: HmacSignatures(key, header=SIGNATURE_HEADER, sender="PagerDuty", variable=SECRET_VAR),
    )


def pagerduty_sender(secret: SecretStr | None, *, allow_unsigned: bool) -> Sender:
    return Sender(
        Source.PAGERDUTY,
        "/webhooks/pagerduty",
        pagerduty_verifier(secret, allow_unsigned=allow_unsigned),
        pagerduty_identity,
        delivery_header="x-webhook-id",
    )
