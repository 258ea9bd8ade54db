"""Partitions revoked while the normalizer cannot store (Kafka or MongoDB away): the rebalance goes on, the
failure is logged as a warning (no traceback through aiokafka's listener), and what was gathered is dropped,
since those partitions' next owner processes it again from the committed offsets (nothing is committed
for a partition this normalizer no longer holds)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

import pytest
from aiokafka import TopicPartition
from pymongo.errors import AutoReconnect

from metricsync.mongo.store import MongoStore
from metricsync.services.normalizer_service import NormalizerService, _FlushOnRevoke
from metricsync.settings import Settings

TP = TopicPartition("raw", 0)


async def _failing_round() -> None:
    raise AutoReconnect("mongo away")


async def test_a_failed_flush_at_revoke_drops_what_was_gathered_and_lets_the_rebalance_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    normalizer = NormalizerService(Settings(), cast(MongoStore, object()), Settings().mapping_rules())
    normalizer.storing = asyncio.create_task(_failing_round())
    await asyncio.sleep(0)
    sent: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    normalizer.unstored.add([], [], [], [], [sent], {TP: 42})  # a later poll, gathered meanwhile
    caplog.set_level(logging.WARNING, logger="metricsync.services.normalizer_service")
    await _FlushOnRevoke(normalizer).on_partitions_revoked([TP])
    assert normalizer.storing is None
    assert normalizer.unstored.polls == 0
    assert normalizer.unstored.offsets == {}
    (record,) = caplog.records
    assert "storing and committing before the rebalance failed (AutoReconnect: mongo away)" in record.getMessage()
    assert record.exc_info is None


async def test_a_bug_at_revoke_is_not_swallowed() -> None:
    async def bug() -> None:
        raise ValueError("a bug")

    normalizer = NormalizerService(Settings(), cast(MongoStore, object()), Settings().mapping_rules())
    normalizer.storing = asyncio.create_task(bug())
    with pytest.raises(ValueError, match="a bug"):
        await _FlushOnRevoke(normalizer).on_partitions_revoked([TP])
