"""What MetricSync relies on from PyMongo's async API against the MongoDB-wire server in use.

Runs against FerretDB (``scripts/services``) and real MongoDB (Docker path) alike: the only known
difference we rely on, time-series collections, is asserted per server.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure

pytestmark = pytest.mark.servers

Db = AsyncDatabase[dict[str, Any]]

NOT_IMPLEMENTED = 238
DUPLICATE_KEY = 11000


async def _is_ferretdb(db: Db) -> bool:
    """FerretDB answers ``buildInfo`` with a ``ferretdbVersion`` field; MongoDB does not."""
    info = await db.client.admin.command("buildInfo")
    return "ferretdbVersion" in info


async def test_ping(mongo_client: AsyncMongoClient[dict[str, Any]]) -> None:
    reply = await mongo_client.admin.command("ping")
    assert reply["ok"] == 1


async def test_insert_and_find(mongo_db: Db) -> None:
    await mongo_db.events.insert_one({"_id": "d1", "service": "api", "n": 1})
    assert await mongo_db.events.find_one({"_id": "d1"}) == {"_id": "d1", "service": "api", "n": 1}


async def test_unique_index_rejects_duplicate_with_11000(mongo_db: Db) -> None:
    await mongo_db.dedup.create_index("delivery_id", unique=True)
    await mongo_db.dedup.insert_one({"delivery_id": "gh-1"})

    with pytest.raises(DuplicateKeyError) as caught:
        await mongo_db.dedup.insert_one({"delivery_id": "gh-1"})

    assert caught.value.code == DUPLICATE_KEY
    assert await mongo_db.dedup.count_documents({}) == 1


async def test_upsert_with_inc_and_set_on_insert(mongo_db: Db) -> None:
    first_seen = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    for attempt in range(3):
        await mongo_db.counters.update_one(
            {"_id": "api|2026-01-02"},
            {"$inc": {"deploys": 1}, "$setOnInsert": {"first_seen": first_seen, "attempt": attempt}},
            upsert=True,
        )

    doc = await mongo_db.counters.find_one({"_id": "api|2026-01-02"})
    assert doc == {"_id": "api|2026-01-02", "deploys": 3, "first_seen": first_seen, "attempt": 0}


async def test_match_group_sum_aggregate(mongo_db: Db) -> None:
    await mongo_db.deploys.insert_many(
        [
            {"service": "api", "ok": True, "n": 1},
            {"service": "api", "ok": False, "n": 1},
            {"service": "api", "ok": True, "n": 2},
            {"service": "web", "ok": True, "n": 5},
        ]
    )

    cursor = await mongo_db.deploys.aggregate(
        [{"$match": {"ok": True}}, {"$group": {"_id": "$service", "total": {"$sum": "$n"}}}]
    )
    rows = await cursor.to_list()

    assert sorted((row["_id"], row["total"]) for row in rows) == [("api", 3), ("web", 5)]


async def test_timeseries_collection_support_depends_on_server(mongo_db: Db) -> None:
    options = {"timeField": "at", "metaField": "service", "granularity": "minutes"}

    if await _is_ferretdb(mongo_db):
        with pytest.raises(OperationFailure) as caught:
            await mongo_db.create_collection("samples", timeseries=options)
        assert caught.value.code == NOT_IMPLEMENTED
        return

    await mongo_db.create_collection("samples", timeseries=options)
    infos = await (await mongo_db.list_collections(filter={"name": "samples"})).to_list()
    assert [info["type"] for info in infos] == ["timeseries"]
    assert infos[0]["options"]["timeseries"]["timeField"] == "at"
