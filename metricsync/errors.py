"""The runtime's error types. One root; misuse errors also inherit the matching builtin."""


class MetricSyncError(Exception):
    """Root of every error MetricSync raises on purpose."""


class ConfigError(MetricSyncError, ValueError):
    """A setting or the config file is wrong; the message names it and the fix."""


class StoreError(MetricSyncError, RuntimeError):
    """A store (SQLite, MongoDB) could not do what was asked."""
