"""Wire formats of distributed mode.

Raw topic: the record value is the webhook body, byte for byte; the delivery's metadata travels in
record headers (`ms-delivery-id`, `ms-source`, `ms-event-type`, `ms-received-at`, `ms-headers`), so
ingest never re-encodes a body and the raw log stays exact. The record key is `RawDelivery.key`.
Events topic: the value is the unified event's JSON, the key its service id.
The spool (ingest's fallback when Kafka is down) stores the same triple.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime

import orjson

from schemas.raw import RawDelivery
from schemas.sources import Source

Headers = list[tuple[str, bytes]]

H_DELIVERY_ID = "ms-delivery-id"
H_SOURCE = "ms-source"
H_EVENT_TYPE = "ms-event-type"
H_RECEIVED_AT = "ms-received-at"
H_HEADERS = "ms-headers"


class CodecError(ValueError):
    """A record that is not a MetricSync raw delivery."""


def encode_raw(delivery: RawDelivery) -> tuple[bytes, bytes, Headers]:
    headers: Headers = [
        (H_DELIVERY_ID, delivery.delivery_id.encode()),
        (H_SOURCE, delivery.source.value.encode()),
        (H_EVENT_TYPE, delivery.event_type.encode()),
        (H_RECEIVED_AT, delivery.received_at.isoformat().encode()),
        (H_HEADERS, orjson.dumps(delivery.headers)),
    ]
    return delivery.key.encode(), delivery.body, headers


def decode_raw(key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]]) -> RawDelivery:
    meta = dict(headers)
    missing = [h for h in (H_DELIVERY_ID, H_SOURCE, H_EVENT_TYPE, H_RECEIVED_AT) if h not in meta]
    if missing:
        raise CodecError(f"raw record lacks header(s) {', '.join(missing)}")
    try:
        return RawDelivery(
            delivery_id=meta[H_DELIVERY_ID].decode(),
            source=Source(meta[H_SOURCE].decode()),
            event_type=meta[H_EVENT_TYPE].decode(),
            key=(key or b"").decode(),
            received_at=datetime.fromisoformat(meta[H_RECEIVED_AT].decode()),
            headers=orjson.loads(meta.get(H_HEADERS, b"{}")),
            body=value or b"",
        )
    except (ValueError, UnicodeDecodeError) as e:
        raise CodecError(f"raw record has a bad header: {e}") from e


def encode_spool_record(delivery: RawDelivery) -> bytes:
    key, value, headers = encode_raw(delivery)
    body = base64.b64encode(value).decode()
    return orjson.dumps({"k": key.decode(), "h": [[n, v.decode()] for n, v in headers], "v": body})


def decode_spool_record(data: bytes) -> RawDelivery:
    doc = orjson.loads(data)
    return decode_raw(doc["k"].encode(), base64.b64decode(doc["v"]), [(n, v.encode()) for n, v in doc["h"]])
