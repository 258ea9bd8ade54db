"""The runtime's own error types; the roots (`MetricSyncError`, `ConfigError`) are in schemas.errors."""

from schemas.errors import MetricSyncError


class StoreError(MetricSyncError, RuntimeError):
    """A store (SQLite, MongoDB) could not do what was asked."""
