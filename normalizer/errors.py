"""The normalizer's error types, under MetricSync's root (schemas.errors). A bad mapping rule (pattern,
matcher list) raises `schemas.errors.ConfigError`, naming the setting and the fix."""

from schemas.errors import MetricSyncError


class NormalizerError(MetricSyncError):
    """Root of every error the normalizer raises on purpose (besides ConfigError)."""


class UnmappableDelivery(NormalizerError, ValueError):
    """A delivery that cannot be mapped: body not a JSON object, a required field missing or of the
    wrong type, an unparseable timestamp. The runtime sends it to the dead-letter store; nothing of
    it is lost, so it can be replayed once the cause is fixed."""

    def __init__(self, *, source: str, delivery_id: str, event_type: str, field: str | None, reason: str) -> None:
        where = f" field '{field}'" if field else ""
        super().__init__(f"{source} delivery '{delivery_id}' ({event_type}):{where} {reason}")
        self.source = source
        self.delivery_id = delivery_id
        self.event_type = event_type
        self.field = field
        self.reason = reason
