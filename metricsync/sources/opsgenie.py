"""Opsgenie: the outgoing Webhook integration, with a token header or basic auth."""

from ingest.opsgenie import opsgenie_sender
from metricsync.sources.registration import SourceRegistration
from normalizer.opsgenie import map_opsgenie
from schemas.sources import OPSGENIE_MAPPED_ACTIONS, Source

OPSGENIE = SourceRegistration(
    source=Source.OPSGENIE,
    title="Opsgenie",
    senders=lambda config: [opsgenie_sender(config.opsgenie_token, allow_unsigned=config.allow_unsigned)],
    mapper=map_opsgenie,
    mapped_events=OPSGENIE_MAPPED_ACTIONS,
    secret_fields=("opsgenie_token",),
    docs_anchor="docs/events.md#56-opsgenie-outgoing-webhooks-normalizeropsgeniepy",
)
