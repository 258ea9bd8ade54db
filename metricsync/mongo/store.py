"""Distributed mode's store on the MongoDB wire protocol (MongoDB, or FerretDB in tests).

Used as a document store only, so it runs on both: inserts (upserts only for dead letters), indexed
finds, `$in` deletes; no transactions, no change streams, no aggregation (test_mongo_smoke.py).
Collections (names are settings):

- raw_deliveries   `_id` = delivery id; the immutable log `metricsync rebuild` re-derives from.
                   Bodies are LZ4 blocks (`body_encoding`, metricsync/body_codec.py): FerretDB's
                   write and scan cost is per byte (~25 MB/s inserts on 2 cores).
- events           unified events; a time-series collection (timeField `event_time`, metaField
                   `meta` = {service, source, kind, environment}) where the server supports it
                   (MongoDB >= 5.0), else an ordinary one with the same index.
- event_ids        `_id` = event id: the dedup key where `events` is time-series (those take no unique
                   index); an ordinary `events` collection dedups on its own `_id` and leaves it empty.
- service_state    the worker's metric state: per service an append-only log of a base (the
                   exported state) and deltas (the events applied since), `_id` = service#seq,
                   each with the partition and offset of the last event applied; bodies are
                   zlib'd bytes (FerretDB stores no nested arrays). See metricsync/mongo/state_log.py.
- dead_letters     `_id` = delivery id: what the normalizer could not map, with the error.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bson import Binary
from pymongo import AsyncMongoClient, ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, CollectionInvalid, OperationFailure, PyMongoError

from metricsync.body_codec import decode_body, encode_body
from metricsync.mongo.dead_letter_docs import ORDER, filter_query, to_letter
from metricsync.mongo.state_log import StoredState, fold
from metricsync.settings import Settings
from schemas.api import DeadLetter
from schemas.events import Deployment, IncidentFields, UnifiedEvent, event_from_json, event_to_json
from schemas.ports import DeadLetterFilter
from schemas.raw import RawDelivery
from schemas.sources import Source

log = logging.getLogger(__name__)

DUPLICATE_KEY = 11000
RULES_DERIVED = "rules_derived"  # meta: the rules fingerprint the stored events were derived with
RULES_NORMALIZER = "rules_normalizer"  # meta: the fingerprint the normalizers last started with
Doc = dict[str, Any]
Revision = tuple[int, object]  # a service's state log: (seq, `at`) of its last document


@dataclass(frozen=True, slots=True)
class Collections:
    raw: str = "raw_deliveries"
    events: str = "events"
    event_ids: str = "event_ids"
    state: str = "service_state"
    dead: str = "dead_letters"
    meta: str = "meta"


class StateConflict(RuntimeError):
    """Another writer already wrote state documents this one tried to write (`ids`); the others of
    the same insert were written."""

    def __init__(self, message: str, ids: Sequence[str]) -> None:
        super().__init__(message)
        self.ids = list(ids)


def _new_indices(docs_count: int, error: BulkWriteError) -> list[int]:
    """Indices of an unordered insert_many that went in; duplicates are expected, others are not."""
    failed: set[int] = set()
    for write_error in error.details.get("writeErrors", []):
        if write_error.get("code") != DUPLICATE_KEY:
            raise error
        failed.add(int(write_error["index"]))
    return [i for i in range(docs_count) if i not in failed]


class MongoStore:
    def __init__(self, client: AsyncMongoClient[Doc], database: str, names: Collections = Collections()) -> None:
        self.client = client
        self.db: AsyncDatabase[Doc] = client[database]
        self.names = names
        self.events_timeseries: bool | None = None

    @classmethod
    def connect(cls, uri: str, database: str, names: Collections = Collections()) -> MongoStore:
        client: AsyncMongoClient[Doc] = AsyncMongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=5000)
        return cls(client, database, names)

    @classmethod
    def from_settings(cls, settings: Settings) -> MongoStore:
        names = Collections(
            raw=settings.raw_collection,
            events=settings.events_collection,
            event_ids=settings.event_ids_collection,
            state=settings.state_collection,
            dead=settings.dead_letter_collection,
            meta=settings.meta_collection,
        )
        return cls.connect(settings.mongo_uri, settings.mongo_db, names)

    async def events_are_timeseries(self) -> bool:
        """Whether `events` is a time-series collection (logged by the services at start-up)."""
        return await self._timeseries()

    async def close(self) -> None:
        await self.client.close()

    async def ping(self) -> str | None:
        try:
            await self.db.command("ping")
        except PyMongoError as e:
            return f"MongoDB does not answer: {e}"
        return None

    # --- init ------------------------------------------------------------------------------------

    async def init(self) -> None:
        """Create collections and indexes; safe to run twice. Logs whether events are time-series."""
        existing = set(await self.db.list_collection_names())
        if self.names.events in existing:
            info = await self.db.command("listCollections", filter={"name": self.names.events})
            batch = info["cursor"]["firstBatch"]
            self.events_timeseries = bool(batch) and batch[0].get("type") == "timeseries"
        else:
            try:
                await self.db.create_collection(
                    self.names.events,
                    timeseries={"timeField": "event_time", "metaField": "meta", "granularity": "minutes"},
                )
                self.events_timeseries = True
            except OperationFailure as e:
                log.info("events collection: time-series not supported by this server (%s); using ordinary", e.code)
                await self._ensure_collection(self.names.events)
                self.events_timeseries = False
            except CollectionInvalid:
                self.events_timeseries = False
        for name in (self.names.raw, self.names.event_ids, self.names.state, self.names.dead):
            if name not in existing:
                await self._ensure_collection(name)
        await self.db[self.names.events].create_index([("meta.service", 1), ("event_time", 1)])
        await self.db[self.names.raw].create_index([("received_at", 1)])
        await self.db[self.names.state].create_index([("service", 1), ("seq", 1)])
        await self.db[self.names.state].create_index([("partition", 1)])
        await self.db[self.names.dead].create_index(ORDER)  # the listing's keyset order (`at`, `_id`)
        log.info("mongo collections ready database=%s events_timeseries=%s", self.db.name, self.events_timeseries)

    async def _ensure_collection(self, name: str) -> None:
        try:
            await self.db.create_collection(name)
        except CollectionInvalid:
            pass  # created concurrently
        except OperationFailure as e:
            if e.code != 48:  # NamespaceExists
                raise

    async def _timeseries(self) -> bool:
        if self.events_timeseries is None:
            info = await self.db.command("listCollections", filter={"name": self.names.events})
            batch = info["cursor"]["firstBatch"]
            self.events_timeseries = bool(batch) and batch[0].get("type") == "timeseries"
        return self.events_timeseries

    # --- raw log ---------------------------------------------------------------------------------

    async def put_raw_many(self, deliveries: Sequence[RawDelivery]) -> int:
        """Keep deliveries in the raw log; ones already kept are left as they are. Returns new count."""
        if not deliveries:
            return 0
        docs = [
            {
                "_id": d.delivery_id,
                "source": d.source.value,
                "event_type": d.event_type,
                "key": d.key,
                "received_at": d.received_at,
                "headers": d.headers,
                "body": Binary(body),
                "body_encoding": encoding,
            }
            for d in deliveries
            for body, encoding in [encode_body(d.body)]
        ]
        try:
            result = await self.db[self.names.raw].insert_many(docs, ordered=False)
            return len(result.inserted_ids)
        except BulkWriteError as e:
            return len(_new_indices(len(docs), e))

    async def raw_batches(self, size: int) -> AsyncIterator[list[RawDelivery]]:
        """Every raw delivery, `size` at a time, through one cursor in natural order (rebuild: the
        engine's results do not depend on order, and paging by `_id` re-sorts the log per page)."""
        batch: list[RawDelivery] = []
        async for doc in self.db[self.names.raw].find({}, batch_size=size):
            batch.append(
                RawDelivery(
                    delivery_id=doc["_id"],
                    source=Source(doc["source"]),
                    event_type=doc["event_type"],
                    key=doc["key"],
                    received_at=_utc(doc["received_at"]),
                    headers=doc.get("headers", {}),
                    body=_raw_body(doc),
                )
            )
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch

    async def raw_count(self) -> int:
        return await self.db[self.names.raw].count_documents({})

    # --- events ----------------------------------------------------------------------------------

    async def put_events(
        self, events: Sequence[UnifiedEvent], payloads: Sequence[bytes] | None = None
    ) -> list[UnifiedEvent]:
        """Store events not stored before; returns those that were new. `payloads`: the events' JSON
        (`event_to_json`), when the caller has it already (the normalizer publishes the same bytes).

        An ordinary events collection has the event id as `_id`: one unordered insert, and the
        duplicate-key errors name the events stored before. A time-series collection takes no unique
        index, so there the dedup key is `event_ids` (looked up first, written after)."""
        if not events:
            return []
        if payloads is None:
            payloads = [event_to_json(e) for e in events]
        unique: dict[str, tuple[UnifiedEvent, bytes]] = {e.id: (e, p) for e, p in zip(events, payloads, strict=True)}
        if not await self._timeseries():
            candidates = list(unique.values())
            docs = [self._event_doc(e, p, False) for e, p in candidates]
            try:
                await self.db[self.names.events].insert_many(docs, ordered=False)
            except BulkWriteError as error:
                return [candidates[i][0] for i in _new_indices(len(docs), error)]
            return [e for e, _ in candidates]
        seen = {
            doc["_id"] async for doc in self.db[self.names.event_ids].find({"_id": {"$in": list(unique)}}, {"_id": 1})
        }
        new = [(e, p) for e, p in unique.values() if e.id not in seen]
        if not new:
            return []
        docs = [self._event_doc(e, p, True) for e, p in new]
        try:
            await self.db[self.names.events].insert_many(docs, ordered=False)
        except BulkWriteError as error:  # ordinary collection, replay after a crash: already there
            _new_indices(len(docs), error)
        try:
            await self.db[self.names.event_ids].insert_many([{"_id": e.id} for e, _ in new], ordered=False)
        except BulkWriteError as error:
            _new_indices(len(new), error)
        return [e for e, _ in new]

    @staticmethod
    def _event_doc(event: UnifiedEvent, payload: bytes, timeseries: bool) -> Doc:
        doc: Doc = {
            "event_time": event.event_time,
            "meta": {
                "service": event.service,
                "source": event.source.value,
                "kind": event.kind,
                # isinstance, not getattr with a default: pydantic raises (slowly) for a missing attribute
                "environment": event.environment if isinstance(event, Deployment | IncidentFields) else None,
            },
            "event_id": event.id,
            "payload": Binary(payload),
        }
        if not timeseries:
            doc["_id"] = event.id
        return doc

    async def events_for(self, service: str, limit: int = 0) -> list[UnifiedEvent]:
        cursor = self.db[self.names.events].find({"meta.service": service}).sort("event_time", 1)
        if limit:
            cursor = cursor.limit(limit)
        out: dict[str, UnifiedEvent] = {}
        async for doc in cursor:
            out.setdefault(doc["event_id"], event_from_json(bytes(doc["payload"])))
        return list(out.values())

    async def event_count(self) -> int:
        dedup = self.names.event_ids if await self._timeseries() else self.names.events
        return await self.db[dedup].count_documents({})

    # --- worker state (an append-only log per service: metricsync/mongo/state_log.py) ----------------

    async def append_states(self, docs: Sequence[Doc]) -> None:
        """Insert state log documents (state_log.base_doc / delta_doc). Their `_id` names service and
        sequence number, so a second writer of the same service (a worker that lost its partition
        and did not notice) collides instead of interleaving: StateConflict."""
        if not docs:
            return
        try:
            await self.db[self.names.state].insert_many(list(docs), ordered=False)
        except BulkWriteError as e:
            errors = e.details.get("writeErrors", [])
            clashes = [docs[int(w["index"])]["_id"] for w in errors if w.get("code") == DUPLICATE_KEY]
            if clashes:
                raise StateConflict(
                    f"state documents {clashes[:5]} were already written by another worker (a partition moved, or "
                    "the events of a service sit on two partitions after a repartition)",
                    clashes,
                ) from e
            raise

    async def load_states(
        self, services: Iterable[str] | None = None, partitions: Iterable[int] | None = None
    ) -> dict[str, StoredState]:
        """The stored state of the given services, or of the services last written from the given
        partitions, or of all services (both None)."""
        query: Doc = {}
        if services is not None:
            query["service"] = {"$in": list(services)}
        if partitions is not None:
            query["partition"] = {"$in": list(partitions)}
        return fold([doc async for doc in self.db[self.names.state].find(query)])

    async def state_revisions(self) -> dict[str, Revision]:
        """service -> (sequence number, `at`) of its last state document. The `at` tells a log that
        a rebuild started over apart from the one it replaced at the same sequence number."""
        revs: dict[str, Revision] = {}
        async for doc in self.db[self.names.state].find({}, {"service": 1, "seq": 1, "at": 1}):
            service, seq = str(doc["service"]), int(doc["seq"])
            if seq > revs.get(service, (-1, None))[0]:
                revs[service] = (seq, doc.get("at"))
        return revs

    async def delete_states(self, ids: Sequence[str], chunk: int = 1000) -> None:
        """Delete superseded state documents, a bulk `$in` at a time (one collection scan on FerretDB,
        where a delete per `_id` scans once each)."""
        for i in range(0, len(ids), chunk):
            await self.db[self.names.state].delete_many({"_id": {"$in": list(ids[i : i + chunk])}})

    # --- dead letters ----------------------------------------------------------------------------

    async def put_dead_letters(self, letters: Sequence[Doc]) -> None:
        if not letters:
            return
        ops = [ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in letters]
        await self.db[self.names.dead].bulk_write(ops, ordered=False)

    async def dead_letter_count(self) -> int:
        """The open dead letters: not mapped by a replay since (as embedded mode counts them)."""
        return await self.db[self.names.dead].count_documents({"replayed_at": {"$exists": False}})

    async def find_dead_letters(self, query: Doc, skip: int = 0, limit: int = 0) -> tuple[list[Doc], int]:
        """Dead letters matching `query`, oldest first (`at`, then id), and how many match in all."""
        total = await self.db[self.names.dead].count_documents(query)
        cursor = self.db[self.names.dead].find(query).sort([("at", 1), ("_id", 1)]).skip(skip)
        if limit:
            cursor = cursor.limit(limit)
        return [doc async for doc in cursor], total

    async def list_dead_letters(
        self, selection: DeadLetterFilter, after: tuple[str, str] | None, limit: int, with_body: bool
    ) -> list[DeadLetter]:
        """The DeadLetters port: a keyset page in (`at`, `_id`) order (metricsync/mongo/dead_letter_docs.py)."""
        cursor = self.db[self.names.dead].find(filter_query(selection, after)).sort(ORDER).limit(limit)
        return [to_letter(doc, with_body) async for doc in cursor]

    async def count_dead_letters(self, selection: DeadLetterFilter) -> int:
        return await self.db[self.names.dead].count_documents(filter_query(selection))

    async def get_dead_letter(self, letter_id: str) -> DeadLetter | None:
        doc = await self.db[self.names.dead].find_one({"_id": letter_id})
        return None if doc is None else to_letter(doc, with_body=True)

    async def update_dead_letter(self, letter_id: str, fields: Doc) -> None:
        """Set fields of one dead letter (a replay's outcome); the only update of one by `_id`."""
        await self.db[self.names.dead].update_one({"_id": letter_id}, {"$set": fields})

    async def raw_delivery(self, delivery_id: str) -> RawDelivery | None:
        doc = await self.db[self.names.raw].find_one({"_id": delivery_id})
        if doc is None:
            return None
        return RawDelivery(
            delivery_id=doc["_id"],
            source=Source(doc["source"]),
            event_type=doc["event_type"],
            key=doc["key"],
            received_at=_utc(doc["received_at"]),
            headers=doc.get("headers", {}),
            body=_raw_body(doc),
        )

    # --- rebuild ---------------------------------------------------------------------------------

    async def get_meta(self, name: str) -> str | None:
        """A small named value the services share (e.g. the rules fingerprint), or None."""
        doc = await self.db[self.names.meta].find_one({"_id": name})
        return None if doc is None else str(doc["value"])

    async def set_meta(self, name: str, value: str) -> None:
        await self.db[self.names.meta].update_one({"_id": name}, {"$set": {"value": value}}, upsert=True)

    async def reset_derived(self) -> None:
        """Forget what is derived from the raw log: drop those collections and create them afresh
        (`init`). One drop whatever the size; FerretDB's `delete_many({})` fails past ~32k documents
        ("SQL logic error: too many SQL variables")."""
        for name in (self.names.events, self.names.event_ids, self.names.state, self.names.dead):
            await self.db.drop_collection(name)
        self.events_timeseries = None
        await self.init()


def _raw_body(doc: Doc) -> bytes:
    return decode_body(bytes(doc["body"]), doc.get("body_encoding"))


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
