"""A webhook delivery as received: the immutable log every event is derived from."""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from schemas.sources import Source


class IngestStatus(StrEnum):
    """What ingest answered for a delivery."""

    ACCEPTED = "accepted"  # new, and of an event type the normalizer maps
    IGNORED = "ignored"  # new, stored raw, but of a type the engine does not use
    DUPLICATE = "duplicate"  # seen before (same delivery id): nothing changes


class RawDelivery(BaseModel):
    """One accepted webhook request, kept verbatim.

    `delivery_id` is the deduplication identity (GitHub `X-GitHub-Delivery`; Jenkins: job url +
    build number + phase; Alertmanager: SHA-256 of the body; GitLab: `gitlab:` + `Idempotency-Key`,
    else `X-Gitlab-Event-UUID`, else a digest of event and body; PagerDuty: `pagerduty:` + `event.id`;
    Opsgenie: `opsgenie:` + digest of alert id and action; CDEvents: `cdevents:` + digest of
    `context.source` and `context.id`; push API: `push:` + digest of kind, caller's id and state).
    `key` orders deliveries that must stay in order (the repository or job they concern): it is the
    Kafka record key of the raw topic.
    `headers` keeps the sender's non-secret headers, names lower-cased.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    delivery_id: str
    source: Source
    event_type: str
    key: str
    received_at: datetime
    headers: dict[str, str]
    body: bytes
