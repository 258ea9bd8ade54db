"""Topic names (defaults; distributed mode makes them settings)."""

RAW_TOPIC = "metricsync.raw"  # accepted deliveries, keyed by RawDelivery.key
EVENTS_TOPIC = "metricsync.events"  # unified events, keyed by service id
METRICS_TOPIC = "metricsync.metrics"  # metric snapshots per service (compacted), keyed by service id
DEAD_LETTER_TOPIC = "metricsync.dead-letter"  # deliveries the normalizer could not map, with the error
