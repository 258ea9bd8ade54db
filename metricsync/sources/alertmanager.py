"""Prometheus Alertmanager: webhook receivers (version 4), with a token."""

from ingest.app import alertmanager_sender
from ingest.identity import ALERT_GROUP
from metricsync.sources.registration import SourceRegistration
from normalizer.alertmanager import map_alertmanager
from schemas.sources import Source

ALERTMANAGER = SourceRegistration(
    source=Source.ALERTMANAGER,
    title="Prometheus Alertmanager",
    senders=lambda config: [alertmanager_sender(config)],
    mapper=map_alertmanager,
    mapped_events=frozenset({ALERT_GROUP}),
    secret_fields=("alertmanager_token",),
    docs_anchor="docs/events.md#53-prometheus-alertmanager-normalizeralertmanagerpy",
)
