"""The fields every unified event carries, taken from the delivery it came from."""

from datetime import datetime
from typing import TypedDict

from normalizer.timeparse import as_utc
from schemas.raw import RawDelivery
from schemas.sources import Source


class Envelope(TypedDict):
    id: str
    source: Source
    delivery_id: str
    service: str
    event_time: datetime
    received_at: datetime


def envelope(delivery: RawDelivery, *, event_id: str, service: str, event_time: datetime) -> Envelope:
    """Spread into an event: `ChangePushed(**envelope(...), sha=...)`; times end up in UTC."""
    return Envelope(
        id=event_id,
        source=delivery.source,
        delivery_id=delivery.delivery_id,
        service=service,
        event_time=as_utc(event_time),
        received_at=as_utc(delivery.received_at),
    )
