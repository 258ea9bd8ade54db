"""MetricSync's error roots, shared by every package: one root; misuse errors also inherit the
matching builtin. The core's own errors (e.g. normalizer.errors) and the runtime's (metricsync.errors)
derive from these."""


class MetricSyncError(Exception):
    """Root of every error MetricSync raises on purpose."""


class ConfigError(MetricSyncError, ValueError):
    """A setting, a mapping rule or the config file is wrong; the message names it and the fix."""
