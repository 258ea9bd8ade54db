"""CDEvents over CloudEvents HTTP (binary, structured, batched), with a token."""

from ingest.cdevents import cdevents_sender
from metricsync.sources.registration import SourceRegistration
from normalizer.cdevents import map_cdevents
from schemas.sources import CDEVENTS_MAPPED_TYPES, Source

CDEVENTS = SourceRegistration(
    source=Source.CDEVENTS,
    title="CDEvents",
    senders=lambda config: [cdevents_sender(config.cdevents_token, allow_unsigned=config.allow_unsigned)],
    mapper=map_cdevents,
    mapped_events=CDEVENTS_MAPPED_TYPES,
    secret_fields=("cdevents_token",),
    docs_anchor="docs/events.md#57-cdevents-normalizercdeventspy",
)
