"""The push API (`POST /api/v1/deployments|incidents`, MetricSync's and DevLake's shapes), bearer token."""

from ingest.push_api import push_senders
from metricsync.sources.registration import SourceRegistration
from normalizer.push_api import map_push
from schemas.push_api import API_EVENT_TYPES
from schemas.sources import Source

PUSH = SourceRegistration(
    source=Source.PUSH,
    title="Push API",
    senders=lambda config: push_senders(config.push_token, allow_unsigned=config.allow_unsigned),
    mapper=map_push,
    mapped_events=frozenset(API_EVENT_TYPES),
    secret_fields=("push_token",),
    docs_anchor="docs/events.md#58-push-api-and-devlake-normalizerpush_apipy-shapes-in-schemaspush_apipy",
)
