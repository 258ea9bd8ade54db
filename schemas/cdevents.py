"""Where the CDEvents are in a delivery: the CloudEvents HTTP binding's three modes, plus a bare event.

* binary mode: `ce-specversion`, `ce-id`, `ce-source`, `ce-type` headers; the body is the CDEvent;
* structured mode (`application/cloudevents+json`): the body is a CloudEvent whose `data` is the CDEvent;
* batched mode (`application/cloudevents-batch+json`): the body is an array of structured CloudEvents;
* a bare CDEvent (`application/json`, no `ce-*` headers), as in the spec's conformance examples.

Shared by ingest (identity) and the normalizer (mapping), so both read a delivery the same way.
"""

from collections.abc import Mapping
from typing import Any

BATCH_MEDIA_TYPE = "application/cloudevents-batch+json"
MAX_BATCH = 1000


def media_type(headers: Mapping[str, str]) -> str:
    return headers.get("content-type", "").partition(";")[0].strip().lower()


def is_batch(headers: Mapping[str, str]) -> bool:
    return media_type(headers) == BATCH_MEDIA_TYPE


def cdevents_in(payload: Any, headers: Mapping[str, str]) -> list[Any]:
    """The CDEvents (not yet checked: each should be an object with `context` and `subject`) of a
    parsed body; `headers` with lower-cased names."""
    if isinstance(payload, list):
        return [_unwrap(item) for item in payload]
    if headers.get("ce-specversion") is not None:
        return [payload]
    return [_unwrap(payload)]


def _unwrap(event: Any) -> Any:
    """A structured CloudEvent's `data`; a bare CDEvent (it has `context`) as it is."""
    if isinstance(event, dict) and "context" not in event and "specversion" in event:
        return event.get("data")
    return event
