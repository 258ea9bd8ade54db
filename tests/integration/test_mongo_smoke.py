"""What MetricSync relies on from PyMongo's async API against the MongoDB-wire server in use: the
operations metricsync/mongo_store.py performs (inserts, unordered bulk inserts with duplicate-key
reports, indexed finds, `$in` deletes, upserting replaces, time-series where available) and nothing
it does not (no aggregation, no `$inc`).

Runs against FerretDB (``scripts/services``) and real MongoDB (Docker path) alike: the only known
difference we rely on, time-series collections, is asserted per server.
"""

from __future__ import annotations

from typing import Any

import pytest
from pymongo import AsyncMongoClient, ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

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


async def test_unordered_insert_reports_each_duplicate_and_keeps_the_rest(mongo_db: Db) -> None:
    """MongoStore.put_raw_many / put_events: one unordered insert; the duplicate-key errors name the
    documents stored before, every other one is inserted."""
    await mongo_db.raw.insert_one({"_id": "d2", "v": "first"})
    docs = [{"_id": f"d{i}", "v": "second"} for i in range(4)]

    with pytest.raises(BulkWriteError) as caught:
        await mongo_db.raw.insert_many(docs, ordered=False)

    errors = caught.value.details["writeErrors"]
    assert [(e["index"], e["code"]) for e in errors] == [(2, DUPLICATE_KEY)]
    assert await mongo_db.raw.count_documents({}) == 4
    assert (await mongo_db.raw.find_one({"_id": "d2"}) or {})["v"] == "first"


async def test_find_by_in_sorted_and_delete_by_in(mongo_db: Db) -> None:
    """events_for (find + sort), load_states (`$in`), delete_states (delete_many with `$in`)."""
    await mongo_db.state.insert_many(
        [{"_id": f"s#{i}", "service": "s", "seq": i, "partition": i % 2} for i in range(6)]
    )
    found = [doc["seq"] async for doc in mongo_db.state.find({"partition": {"$in": [1]}}).sort("seq", -1)]
    assert found == [5, 3, 1]

    deleted = await mongo_db.state.delete_many({"_id": {"$in": ["s#0", "s#1", "s#9"]}})

    assert deleted.deleted_count == 2
    assert await mongo_db.state.count_documents({}) == 4


async def test_bulk_replace_upserts(mongo_db: Db) -> None:
    """put_dead_letters: a dead letter written again replaces the first."""
    for error in ("first", "second"):
        ops = [ReplaceOne({"_id": f"d{i}"}, {"_id": f"d{i}", "error": error}, upsert=True) for i in range(2)]
        await mongo_db.dead.bulk_write(ops, ordered=False)

    assert [doc async for doc in mongo_db.dead.find({}).sort("_id", 1)] == [
        {"_id": "d0", "error": "second"},
        {"_id": "d1", "error": "second"},
    ]


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
