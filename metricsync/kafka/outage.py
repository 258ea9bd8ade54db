"""Riding out a Kafka (or MongoDB) outage: which errors are transient, how long to wait before the
next try (exponential backoff with jitter), and an outage reported once per interval with a count
of the failures, not once per attempt.

A consumer service that meets a transient error does not exit: it drops what it has not committed,
waits, and starts again from its committed offsets (everything downstream is idempotent). While the
outage lasts longer than `not_ready_after` it reports not-ready (`metricsync healthcheck --ready`).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from aiokafka.errors import (
    AuthenticationFailedError,
    AuthenticationMethodNotSupported,
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    IllegalSaslStateError,
    IncompatibleBrokerVersion,
    InvalidCommitOffsetSizeError,
    InvalidConfigurationError,
    InvalidGroupIdError,
    InvalidRequiredAcksError,
    InvalidSessionTimeoutError,
    InvalidTopicError,
    KafkaConfigurationError,
    KafkaError,
    MessageSizeTooLargeError,
    OffsetMetadataTooLargeError,
    PolicyViolationError,
    RecordListTooLargeError,
    RecordTooLargeError,
    SaslAuthenticationFailed,
    TopicAuthorizationFailedError,
    TransactionalIdAuthorizationFailed,
    UnsupportedCodecError,
    UnsupportedSaslMechanismError,
    UnsupportedVersionError,
)
from pymongo.errors import ConnectionFailure

log = logging.getLogger(__name__)

# What no retry fixes: credentials, permissions, configuration, a record too large for the broker.
# A consumer service exits on these (loudly: the traceback, a non-zero exit) instead of retrying
# forever. Every other Kafka error is transient for a consumer service, whether aiokafka marks it
# retriable or not: a broker shutting down or starting up answers with errors aiokafka does not
# retry (UNKNOWN_SERVER_ERROR, and codes it does not know, such as OFFSET_NOT_AVAILABLE, come back
# as UnknownError), the idempotent producer's sender gives up with a plain KafkaError ("Unexpected
# error during batch delivery") or ProducerFenced, a commit after a rebalance meets a partition that
# is no longer assigned (IllegalStateError). The recovery (drop what is not committed, a new
# producer, seek back to the committed offsets) is the same for all of them, and an error that
# persists stays loud: logged once per interval with its count, not ready after
# METRICSYNC_NOT_READY_AFTER.
FATAL = (
    AuthenticationFailedError,
    AuthenticationMethodNotSupported,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
    IllegalSaslStateError,
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    TopicAuthorizationFailedError,
    TransactionalIdAuthorizationFailed,
    KafkaConfigurationError,
    InvalidConfigurationError,
    InvalidGroupIdError,
    InvalidRequiredAcksError,
    InvalidSessionTimeoutError,
    InvalidTopicError,
    PolicyViolationError,
    IncompatibleBrokerVersion,
    UnsupportedVersionError,
    UnsupportedCodecError,
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    OffsetMetadataTooLargeError,
    InvalidCommitOffsetSizeError,
)

# Not Kafka errors, but an outage all the same.
_TRANSIENT_TOO = (
    ConnectionFailure,  # MongoDB away (AutoReconnect, server selection timeout, network timeout)
    ConnectionError,
    TimeoutError,
)


def is_transient(error: BaseException) -> bool:
    """An error a consumer service waits out rather than dies of."""
    if isinstance(error, KafkaError):
        return not isinstance(error, FATAL)
    return isinstance(error, _TRANSIENT_TOO)


class Backoff:
    """Exponential backoff with jitter: the n-th wait is between half and all of
    min(cap, base * 2**n) seconds, so services that failed together do not retry together."""

    def __init__(self, base: float = 0.5, cap: float = 10.0, rng: Callable[[], float] = random.random) -> None:
        self.base = base
        self.cap = cap
        self.rng = rng
        self.attempts = 0

    def next(self) -> float:
        ceiling: float = min(self.cap, self.base * 2.0**self.attempts)
        self.attempts += 1
        jitter: float = self.rng()
        return ceiling / 2 + jitter * ceiling / 2

    def reset(self) -> None:
        self.attempts = 0


class Outage:
    """One service's run of transient failures: when it began, how many, what the last one was.
    Logged at its start, then at most once per `log_every` seconds with the count, and once when it
    ends. Not ready once it has lasted `not_ready_after` seconds."""

    def __init__(
        self,
        name: str,
        log_every: float = 10.0,
        not_ready_after: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.log_every = log_every
        self.not_ready_after = not_ready_after
        self.clock = clock
        self.backoff = Backoff()
        self.since: float | None = None
        self.failures = 0
        self.unlogged = 0
        self.logged_at = 0.0
        self.last_error = ""

    def failed(self, error: BaseException) -> float:
        """Count a transient failure; returns the seconds to wait before the next try."""
        now = self.clock()
        self.failures += 1
        self.unlogged += 1
        self.last_error = f"{type(error).__name__}: {error}"[:300]
        if self.since is None:
            self.since = now
            self.logged_at = now
            self.unlogged = 0
            log.warning("%s: transient failure, retrying error=%s", self.name, self.last_error)
        elif now - self.logged_at >= self.log_every:
            log.warning(
                "%s: still failing for %.0fs failures=%d (%d since the last line) last_error=%s",
                self.name,
                now - self.since,
                self.failures,
                self.unlogged,
                self.last_error,
            )
            self.logged_at = now
            self.unlogged = 0
        return self.backoff.next()

    def recovered(self) -> None:
        """Work went through again (a commit succeeded): end the outage, if there was one."""
        if self.since is not None:
            log.info("%s: recovered after %.1fs failures=%d", self.name, self.clock() - self.since, self.failures)
        self.since = None
        self.failures = 0
        self.unlogged = 0
        self.backoff.reset()

    @property
    def ready(self) -> bool:
        return self.since is None or self.clock() - self.since < self.not_ready_after

    def detail(self) -> str:
        if self.since is None:
            return "ok"
        return f"failing for {self.clock() - self.since:.0f}s ({self.failures} failures; last: {self.last_error})"


class RepeatFilter(logging.Filter):
    """Lets the first of a run of identical log lines (same logger, same message template) through,
    then at most one per `interval` seconds, marked with how many were held back. For client
    libraries that log every failed connection attempt (aiokafka: dozens of lines a second per
    broker while Kafka is down)."""

    def __init__(self, prefixes: tuple[str, ...], interval: float = 10.0, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.prefixes = prefixes
        self.interval = interval
        self.clock = clock
        self.seen: dict[tuple[str, str], tuple[float, int]] = {}  # (logger, template) -> (last let through, held)

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.prefixes) or record.levelno >= logging.CRITICAL:
            return True
        key = (record.name, str(record.msg))
        now = self.clock()
        last = self.seen.get(key)
        if last is not None and now - last[0] < self.interval:
            self.seen[key] = (last[0], last[1] + 1)
            return False
        if len(self.seen) > 1000:
            self.seen.clear()
        self.seen[key] = (now, 0)
        if last is not None and last[1]:
            record.msg = f"{record.getMessage()} [{last[1]} more like this in the last {now - last[0]:.0f}s]"
            record.args = None
        return True
