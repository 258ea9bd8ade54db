"""The one place the runtime reads the wall clock (the core never does: callers pass times)."""

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)
