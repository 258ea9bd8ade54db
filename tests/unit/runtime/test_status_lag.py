"""Distributed /api/v1/status's lag part (telemetry.kafka_lag.lag_status / lag_unknown): per watched
group summed over partitions, the total, and `caught_up`; valid against the published Status model."""

from __future__ import annotations

from datetime import UTC, datetime

from metricsync.telemetry.kafka_lag import GroupTopic, LagReader, PartitionLag, lag_status, lag_unknown
from schemas.api import Status

WATCHED = [GroupTopic("norm", "raw"), GroupTopic("work", "events")]


def as_status(part: dict[str, object]) -> Status:
    return Status.model_validate({"as_of": datetime(2026, 1, 1, tzinfo=UTC), "mode": "distributed", **part})


def test_lag_is_summed_per_group_and_in_total() -> None:
    lags = [PartitionLag("norm", "raw", 0, 3), PartitionLag("norm", "raw", 1, 4), PartitionLag("work", "events", 0, 0)]
    part = lag_status(WATCHED, lags)
    assert part == {
        "consumers": [{"group": "norm", "topic": "raw", "lag": 7}, {"group": "work", "topic": "events", "lag": 0}],
        "lag": 7,
        "caught_up": False,
    }
    assert as_status(part).lag == 7


def test_a_topic_not_created_yet_counts_zero_and_is_caught_up() -> None:
    part = lag_status(WATCHED, [])
    status = as_status(part)
    assert (status.lag, status.caught_up) == (0, True)
    assert [c.lag for c in status.consumers or []] == [0, 0]


def test_kafka_away_leaves_lag_unknown_and_says_why() -> None:
    part = lag_unknown(LagReader("127.0.0.1:1", WATCHED), "Kafka did not answer")
    status = as_status(part)
    assert (status.lag, status.caught_up, status.error) == (None, None, "Kafka did not answer")
    assert [c.lag for c in status.consumers or []] == [None, None]
