"""PagerDuty: Webhooks V3, signed (v1 HMAC-SHA256, several signatures during a rotation)."""

from ingest.pagerduty import pagerduty_sender
from metricsync.sources.registration import SourceRegistration
from normalizer.pagerduty import map_pagerduty
from schemas.sources import PAGERDUTY_MAPPED_EVENTS, Source

PAGERDUTY = SourceRegistration(
    source=Source.PAGERDUTY,
    title="PagerDuty",
    senders=lambda config: [pagerduty_sender(config.pagerduty_secret, allow_unsigned=config.allow_unsigned)],
    mapper=map_pagerduty,
    mapped_events=PAGERDUTY_MAPPED_EVENTS,
    secret_fields=("pagerduty_secret",),
    docs_anchor="docs/events.md#55-pagerduty-webhooks-v3-normalizerpagerdutypy",
)
