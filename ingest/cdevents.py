"""CDEvents over the CloudEvents HTTP binding (binary, structured, batched; see `schemas.cdevents`),
authorised by a bearer token, basic auth, or a `token` query parameter (CloudEvents sinks such as
Tekton's often cannot set headers). Identity from the CDEvent's `context`: delivery id =
digest of `context.source` + `context.id` (unique per event by the CloudEvents spec), event type =
`context.type`, ordering key = `context.source`. A batch is one delivery: its id digests every event's
source and id, its type is "batch". Types outside the supported set are stored and answered
"ignored", never refused."""

from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import SecretStr

from ingest.auth import TokenAuth, Verifier, secret_verifier
from ingest.body import parse_object
from ingest.errors import BadRequest
from ingest.identity import MAX_HEADER_VALUE, Identity
from ingest.sender import Sender
from schemas.cdevents import MAX_BATCH, cdevents_in, is_batch
from schemas.ids import stable_id
from schemas.sources import Source, cdevents_kind

TOKEN_VAR = "METRICSYNC_CDEVENTS_TOKEN"
BATCH = "batch"
_FIX = "send CDEvents as CloudEvents (binary, structured or batched mode) with context.id, source and type"


def parse_cdevents(headers: Mapping[str, str], body: bytes) -> dict[str, Any] | list[Any]:
    if not is_batch(headers):
        return parse_object(body)
    if not body:
        raise BadRequest("empty_body", "The request body is empty; send a JSON array of CloudEvents.")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise BadRequest("malformed_json", f"The body is not valid JSON ({e}); send one JSON array.") from e
    if not isinstance(value, list) or not value:
        raise BadRequest("not_an_array", "A cloudevents-batch body must be a non-empty JSON array of CloudEvents.")
    if len(value) > MAX_BATCH:
        raise BadRequest(
            "batch_too_long", f"The batch holds {len(value)} events; send at most {MAX_BATCH} per request."
        )
    return value


def _context(event: Any, where: str) -> tuple[str, str, str]:
    context = event.get("context") if isinstance(event, dict) else None
    if not isinstance(context, dict):
        raise BadRequest("missing_fields", f"{where}: the CDEvent has no 'context' object; {_FIX}.")
    values: list[str] = []
    for name in ("id", "source", "type"):
        value = context.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_HEADER_VALUE * 5:
            raise BadRequest(
                "missing_fields", f"{where}: context.{name} is missing or not a string of reasonable length; {_FIX}."
            )
        values.append(value.strip())
    return values[0], values[1], values[2]


def cdevents_identity(headers: Mapping[str, str], payload: Any, body: bytes) -> Identity:
    events = cdevents_in(payload, headers)
    contexts = [_context(event, f"event {i}" if len(events) > 1 else "body") for i, event in enumerate(events)]
    mapped = any(cdevents_kind(event_type) is not None for _, _, event_type in contexts)
    if len(contexts) == 1 and not isinstance(payload, list):
        event_id, source, event_type = contexts[0]
        return Identity(f"cdevents:{stable_id(source, event_id)}", event_type, source, mapped)
    parts = [part for event_id, source, _ in contexts for part in (source, event_id)]
    return Identity(f"cdevents:{stable_id(BATCH, *parts)}", BATCH, contexts[0][1], mapped)


def cdevents_verifier(token: SecretStr | None, *, allow_unsigned: bool) -> Verifier:
    return secret_verifier(
        token,
        allow_unsigned=allow_unsigned,
        sender="CDEvents",
        variable=TOKEN_VAR,
        make=lambda secret: TokenAuth(secret, sender="CDEvents", variable=TOKEN_VAR, allow_query=True),
    )


def cdevents_sender(token: SecretStr | None, *, allow_unsigned: bool) -> Sender:
    return Sender(
        Source.CDEVENTS,
        "/webhooks/cdevents",
        cdevents_verifier(token, allow_unsigned=allow_unsigned),
        cdevents_identity,
        delivery_header="ce-id",
        parse=parse_cdevents,
    )
