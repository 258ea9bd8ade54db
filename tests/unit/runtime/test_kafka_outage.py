"""Riding out outages: transient errors, backoff with jitter, an outage logged once per interval."""

from __future__ import annotations

import logging

import pytest
from aiokafka.errors import (
    CommitFailedError,
    GroupAuthorizationFailedError,
    IllegalStateError,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    LeaderNotAvailableError,
    MessageSizeTooLargeError,
    ProducerFenced,
    SaslAuthenticationFailed,
    TopicAuthorizationFailedError,
    UnknownError,
    UnknownTopicOrPartitionError,
    for_code,
)
from pymongo.errors import AutoReconnect, DuplicateKeyError

from metricsync.kafka.outage import Backoff, Outage, RepeatFilter, is_transient


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        pytest.param(LeaderNotAvailableError(), True, id="leader-not-available"),
        pytest.param(KafkaConnectionError(), True, id="connection-refused"),
        pytest.param(KafkaTimeoutError(), True, id="send-timed-out"),
        pytest.param(UnknownTopicOrPartitionError(), True, id="unknown-topic-for-a-while"),
        pytest.param(CommitFailedError(), True, id="commit-after-a-rebalance"),
        pytest.param(AutoReconnect("mongo away"), True, id="mongo-away"),
        # what a broker shutting down or starting up answers, and aiokafka does not retry
        pytest.param(UnknownError(), True, id="unknown-server-error"),
        pytest.param(for_code(78)(), True, id="offset-not-available-unknown-to-aiokafka"),
        pytest.param(KafkaError("Unexpected error during batch delivery"), True, id="producer-sender-gave-up"),
        pytest.param(ProducerFenced(), True, id="producer-epoch-fenced"),
        pytest.param(IllegalStateError("Partition t-0 is not assigned"), True, id="commit-after-reassignment"),
        # what no retry fixes: the service exits
        pytest.param(TopicAuthorizationFailedError(), False, id="not-authorized"),
        pytest.param(GroupAuthorizationFailedError(), False, id="group-not-authorized"),
        pytest.param(SaslAuthenticationFailed(), False, id="bad-credentials"),
        pytest.param(MessageSizeTooLargeError(), False, id="record-too-large-for-the-broker"),
        pytest.param(DuplicateKeyError("dup"), False, id="mongo-duplicate"),
        pytest.param(ValueError("bug"), False, id="a-bug"),
    ],
)
def test_transient_errors(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


def test_backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() -> None:
    low = Backoff(base=0.5, cap=4.0, rng=lambda: 0.0)
    assert [low.next() for _ in range(6)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    high = Backoff(base=0.5, cap=4.0, rng=lambda: 1.0)
    assert [high.next() for _ in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    high.reset()
    assert high.next() == 0.5


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_outage_is_logged_at_its_start_once_per_interval_and_at_its_end(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    outage = Outage("worker", log_every=10.0, not_ready_after=30.0, clock=clock)
    caplog.set_level(logging.INFO, logger="metricsync.kafka.outage")
    for _ in range(50):  # 50 failures over 25 s
        outage.failed(LeaderNotAvailableError())
        clock.now += 0.5
    assert outage.ready  # 24.5 s: not yet 30
    clock.now += 10
    outage.failed(KafkaConnectionError("refused"))
    assert not outage.ready
    assert "failing for 35s (51 failures" in outage.detail()
    outage.recovered()
    assert outage.ready
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 5, lines  # start, +10 s, +20 s, +35 s, recovered
    assert lines[0].startswith("worker: transient failure, retrying error=LeaderNotAvailableError")
    assert "failures=21 (20 since the last line)" in lines[1]
    assert lines[-1] == "worker: recovered after 35.0s failures=51"


def test_repeat_filter_lets_one_line_per_interval_through_with_the_count() -> None:
    clock = Clock()
    chatty = RepeatFilter(("aiokafka",), interval=10.0, clock=clock)

    def record(name: str, msg: str, *args: object) -> logging.LogRecord:
        return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)

    passed = []
    for _ in range(100):
        r = record("aiokafka.conn", "Unable connect to node with id %s: %s", 1, "refused")
        if chatty.filter(r):
            passed.append(r.getMessage())
        clock.now += 0.25
    assert passed == [
        "Unable connect to node with id 1: refused",
        "Unable connect to node with id 1: refused [39 more like this in the last 10s]",
        "Unable connect to node with id 1: refused [39 more like this in the last 10s]",
    ]
    assert chatty.filter(record("metricsync.worker", "not filtered"))
    assert chatty.filter(record("aiokafka.consumer", "another template"))
