"""The normalizer's error types. One root; misuse errors also inherit the matching builtin.

The normalizer may import only `schemas`, so its root is its own (the runtime's `MetricSyncError`
lives in `metricsync`, which this package must not import).
"""


class NormalizerError(Exception):
    """Root of every error the normalizer raises on purpose."""


class ConfigError(NormalizerError, ValueError):
    """A mapping rule (pattern, matcher list) is wrong; the message names the setting and the fix."""


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
