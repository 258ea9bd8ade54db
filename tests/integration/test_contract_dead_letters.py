"""The dead-letter contract (schemas.ports.DeadLetters), one suite run against both twins: the SQLite
store of embedded mode and the MongoDB store of distributed mode (on the real FerretDB of scripts/services).
Each twin is filled through its own write path (SQLite: the normalizer's `commit_normalized`; MongoDB:
the normalizer service's dead-letter documents), then read through the port and through the one route
module both modes serve (metricsync/web/dead_letters.py): order, keyset pages, filters, bodies, CSV."""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Protocol

import httpx
import pytest
from aiokafka import TopicPartition
from pydantic import SecretStr
from starlette.applications import Starlette

from metrics_worker.engine import MetricEngine
from metricsync.clock import utc_now
from metricsync.embedded.sqlite_store import DeadLetter as SqliteDeadLetter
from metricsync.embedded.sqlite_store import SqliteStore
from metricsync.mongo.store import MongoStore
from metricsync.services.dead_letters import failed_replay, replayed
from metricsync.services.normalizer_service import _dead_letter
from metricsync.settings import Settings
from metricsync.simulation.workload import MixedWorkload
from metricsync.web.dead_letters import routes
from metricsync.web.read_api import ReadApi
from normalizer.mapping import map_or_error
from schemas.api import DeadLetter
from schemas.catalog import ServiceCatalog
from schemas.events import UnifiedEvent
from schemas.ports import DeadLetterFilter, DeadLetters
from schemas.raw import RawDelivery

pytestmark = pytest.mark.servers

END = datetime(2026, 11, 1, tzinfo=UTC)
T0 = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
ALL = DeadLetterFilter()
TOKEN = "contract-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Store(DeadLetters, Protocol):
    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Letter:
    delivery: RawDelivery
    error: str
    at: datetime


@dataclass
class Twin:
    name: str
    store: Store
    fill: Callable[[list[Letter]], Awaitable[None]]  # dead-letter these, through the twin's write path
    # a replay's outcome for one letter, through the twin's write path: mapped to `events`, or (events
    # None) failed again with `error`
    replay: Callable[[str, list[UnifiedEvent] | None, str, datetime], Awaitable[None]]


@pytest.fixture(params=["sqlite", "mongo"])
async def twin(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Twin]:
    if request.param == "sqlite":
        now = [T0]
        sqlite = await SqliteStore.open(tmp_path / "metricsync.db", clock=lambda: now[0])

        async def fill_sqlite(letters: list[Letter]) -> None:
            await sqlite.put_raw_many([letter.delivery for letter in letters])
            seqs = {row.delivery.delivery_id: row.seq for row in await sqlite.raw_after(0, 10_000)}
            for letter in letters:  # one normalizer commit per letter, at its time
                now[0] = letter.at
                seq = seqs[letter.delivery.delivery_id]
                await sqlite.commit_normalized(
                    seq, [], [SqliteDeadLetter(seq, letter.delivery.delivery_id, letter.error)]
                )

        async def replay_sqlite(letter_id: str, events: list[UnifiedEvent] | None, error: str, at: datetime) -> None:
            seq = next(row.seq for row in await sqlite.raw_after(0, 10_000) if row.delivery.delivery_id == letter_id)
            await sqlite.resolve_dead_letter(seq, events, error, at)

        yield Twin("sqlite", sqlite, fill_sqlite, replay_sqlite)
        await sqlite.close()
        return
    mongo_uri: str = request.getfixturevalue("mongo_uri")
    database: str = request.getfixturevalue("mongo_db_name")
    mongo = MongoStore.connect(mongo_uri, database)
    await mongo.init()

    async def fill_mongo(letters: list[Letter]) -> None:
        await mongo.put_raw_many([letter.delivery for letter in letters])
        docs = []
        for offset, letter in enumerate(letters):
            doc = _dead_letter(TopicPartition("raw", 0), SimpleNamespace(offset=offset), letter.delivery, letter.error)
            docs.append({**doc, "at": letter.at.isoformat()})
        await mongo.put_dead_letters(docs)

    async def replay_mongo(letter_id: str, events: list[UnifiedEvent] | None, error: str, at: datetime) -> None:
        fields = failed_replay(error, at) if events is None else replayed(len(events), at)
        await mongo.update_dead_letter(letter_id, fields)

    yield Twin("mongo", mongo, fill_mongo, replay_mongo)
    await mongo.client.drop_database(database)
    await mongo.close()


def deliveries(count: int) -> list[RawDelivery]:
    workload = MixedWorkload(2, count * 4, end=END, days=5, prefix="dead")
    return [g.delivery for g in workload][:count]


def letters(count: int = 7) -> list[Letter]:
    """`count` letters: the first three dead-lettered at the same moment (order by id among them), the
    others a minute apart; errors alternate, one with regex metacharacters and non-ASCII letters."""
    errors = ["jenkins delivery: field 'build.phase' is 'ÉCLATÉ' (unknown)", "github: field (sha) is missing [x]"]
    out = []
    for n, delivery in enumerate(deliveries(count)):
        at = T0 + timedelta(minutes=max(0, n - 2))
        out.append(Letter(delivery, errors[n % 2], at))
    return out


def order(given: list[Letter]) -> list[str]:
    return [letter.delivery.delivery_id for letter in sorted(given, key=lambda x: (x.at, x.delivery.delivery_id))]


async def walk(store: Store, selection: DeadLetterFilter, limit: int) -> list[list[DeadLetter]]:
    pages: list[list[DeadLetter]] = []
    after: tuple[str, str] | None = None
    while True:
        fetched = await store.list_dead_letters(selection, after, limit + 1, False)
        pages.append(fetched[:limit])
        if len(fetched) <= limit:
            return pages
        last = fetched[limit - 1]
        after = (last.at or "", last.id)


async def test_letters_are_listed_in_at_then_id_order_and_keyset_pages_cover_them_once(twin: Twin) -> None:
    given = letters()
    await twin.fill(given)
    assert await twin.store.count_dead_letters(ALL) == len(given)
    whole = await twin.store.list_dead_letters(ALL, None, 100, False)
    assert [d.id for d in whole] == order(given)
    assert [d.at for d in whole] == sorted(letter.at.isoformat() for letter in given)
    for limit in (1, 2, 3, 7):
        pages = await walk(twin.store, ALL, limit)
        assert [d.id for page in pages for d in page] == order(given), limit
        assert all(len(page) == limit for page in pages[:-1])


async def test_filters_select_the_same_letters_in_both_stores(twin: Twin) -> None:
    given = letters()
    await twin.fill(given)

    async def ids(**fields: object) -> list[str]:
        selection = DeadLetterFilter(**fields)  # type: ignore[arg-type]
        listed = [d.id for d in await twin.store.list_dead_letters(selection, None, 100, False)]
        assert await twin.store.count_dead_letters(selection) == len(listed)
        return listed

    source = given[0].delivery.source.value
    assert await ids(source=source) == order([x for x in given if x.delivery.source.value == source])
    assert await ids(source="nosuch") == []
    since, until = T0 + timedelta(minutes=1), T0 + timedelta(minutes=3)
    assert await ids(since=since) == order([x for x in given if x.at >= since])
    assert await ids(since=since, until=until) == order([x for x in given if since <= x.at < until])
    # the error contains the text, case-insensitively (Unicode too), metacharacters taken literally
    assert await ids(error="éclaté") == order(given[0::2])
    assert await ids(error="(SHA) IS MISSING [X]") == order(given[1::2])
    assert await ids(error=".*") == []
    assert await ids(state="open") == order(given)  # none replayed
    assert await ids(state="replayed") == []
    assert await ids(source=source, error="éclaté", since=T0) == order(
        [x for x in given[0::2] if x.delivery.source.value == source]
    )


async def test_a_replay_marks_what_maps_replayed_and_keeps_what_fails_open_in_both_stores(twin: Twin) -> None:
    given = letters(4)
    await twin.fill(given)
    ids = order(given)
    when = T0 + timedelta(days=1)
    by_id = {g.delivery.delivery_id: g for g in given}
    mapped, error = map_or_error(by_id[ids[1]].delivery, Settings().mapping_rules())  # it maps now
    assert error is None
    assert mapped
    await twin.replay(ids[1], mapped, "", when)
    await twin.replay(ids[2], None, "still: field 'build.phase' is 'EXPLODED'", when)

    async def listed(state: str) -> list[DeadLetter]:
        return await twin.store.list_dead_letters(DeadLetterFilter(state=state), None, 100, False)  # type: ignore[arg-type]

    (done,) = await listed("replayed")
    assert (done.id, done.replayed_events, done.last_replay_error) == (ids[1], len(mapped), None)
    assert done.replayed_at is not None
    assert datetime.fromisoformat(done.replayed_at) == when
    assert done.error == by_id[ids[1]].error  # the first error stays
    assert [letter.id for letter in await listed("open")] == [ids[0], ids[2], ids[3]]
    failing = await twin.store.get_dead_letter(ids[2])
    assert failing is not None
    assert (failing.replayed_at, failing.last_replay_error) == (None, "still: field 'build.phase' is 'EXPLODED'")
    assert failing.error == by_id[ids[2]].error
    assert [letter.id for letter in await listed("all")] == ids
    assert await twin.store.count_dead_letters(DeadLetterFilter(state="open")) == 3
    assert await twin.store.count_dead_letters(DeadLetterFilter(state="replayed")) == 1


async def test_one_letter_with_its_body_and_the_list_without(twin: Twin) -> None:
    given = letters(3)
    await twin.fill(given)
    first = given[0].delivery
    one = await twin.store.get_dead_letter(first.delivery_id)
    assert one is not None
    assert base64.b64decode(one.body_b64 or "") == first.body
    assert (one.body_bytes, one.source, one.event_type, one.error) == (
        len(first.body),
        first.source.value,
        first.event_type,
        given[0].error,
    )
    assert one.received_at is not None
    assert datetime.fromisoformat(one.received_at) - first.received_at < timedelta(milliseconds=1)
    assert await twin.store.get_dead_letter("no-such-letter") is None
    listed = await twin.store.list_dead_letters(ALL, None, 10, False)
    assert all(d.body_b64 is None for d in listed)
    sizes = {x.delivery.delivery_id: len(x.delivery.body) for x in given}
    assert [(d.id, d.body_bytes) for d in listed] == [(i, sizes[i]) for i in order(given)]
    with_bodies = await twin.store.list_dead_letters(ALL, None, 10, True)
    assert {d.id: base64.b64decode(d.body_b64 or "") for d in with_bodies} == {
        x.delivery.delivery_id: x.delivery.body for x in given
    }
    if twin.name == "sqlite":  # embedded mode's raw log has no Kafka position
        assert (one.topic, one.partition, one.offset) == (None, None, None)
    else:
        assert (one.topic, one.partition, one.offset) == ("raw", 0, 0)


class NoMetrics:
    """The read API's guard (token check, refusals as JSON) needs a ReadApi; these routes read no metrics."""

    async def engine_for(self, services: Collection[str] | None) -> MetricEngine:
        raise AssertionError("the dead-letter routes read no metrics")

    async def known_services(self) -> Collection[str]:
        return ()


async def test_the_routes_page_with_next_links_and_answer_csv_over_either_store(twin: Twin) -> None:
    given = letters()
    await twin.fill(given)
    api = ReadApi(NoMetrics(), ServiceCatalog(), SecretStr(TOKEN), utc_now)
    app = Starlette(routes=routes(twin.store, api.guard))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=AUTH) as client:
        assert (await client.get("/api/v1/dead-letters", headers={"Authorization": "Bearer no"})).status_code == 401
        seen: list[str] = []
        url: str | None = "/api/v1/dead-letters?limit=3&error=%C3%A9clat%C3%A9&body=true"
        while url is not None:
            response = await client.get(url)
            assert response.status_code == 200, response.text
            page = response.json()
            assert page["total"] == len(given[0::2])
            assert all(base64.b64decode(d["body_b64"]) for d in page["dead_letters"])
            seen += [d["id"] for d in page["dead_letters"]]
            url = page["next"]
            assert (response.headers.get("link") is None) == (url is None)
        assert seen == order(given[0::2])

        exported = await client.get("/api/v1/dead-letters", params={"limit": "2"}, headers={"Accept": "text/csv"})
        assert exported.headers["content-type"] == "text/csv; charset=utf-8"
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert [r["id"] for r in rows] == order(given)[:2]
        assert "body_b64" not in rows[0]
        assert (rows[0]["offset"] == "") == (twin.name == "sqlite")  # no Kafka offset in embedded mode
        link = exported.headers["link"]
        following = await client.get(link[1 : link.index(">")], headers={"Accept": "text/csv"})
        assert [r["id"] for r in csv.DictReader(io.StringIO(following.text))] == order(given)[2:4]

        assert (await client.get("/api/v1/dead-letters", params={"offset": "2"})).status_code == 400
        bad = await client.get("/api/v1/dead-letters", params={"cursor": "eyJ4Ijox"})
        assert (bad.status_code, bad.json()["error"]) == (400, "bad_cursor")
        one = await client.get(f"/api/v1/dead-letters/{given[0].delivery.delivery_id}")
        assert base64.b64decode(one.json()["body_b64"]) == given[0].delivery.body
        missing = await client.get("/api/v1/dead-letters/nope")
        assert (missing.status_code, missing.json()["error"]) == (404, "not_found")


async def test_mongo_letters_without_a_time_page_first_and_once(mongo_uri: str, mongo_db_name: str) -> None:
    """Distributed mode only: letters `rebuild` wrote before it set `at` (no `at` at all) sort first, as
    nulls, and keyset pages through them and on into the dated ones without losing or repeating one."""
    store = MongoStore.connect(mongo_uri, mongo_db_name)
    try:
        await store.init()
        undated = [{"_id": f"old-{n}", "source": "github", "error": "old"} for n in (2, 0, 1)]
        dated = [{"_id": f"new-{n}", "source": "github", "error": "new", "at": T0.isoformat()} for n in (1, 0)]
        await store.put_dead_letters([*dated, *undated])
        expected = ["old-0", "old-1", "old-2", "new-0", "new-1"]
        for limit in (1, 2, 3):
            pages = await walk(store, ALL, limit)
            assert [d.id for page in pages for d in page] == expected, limit
        assert [d.id for d in await store.list_dead_letters(DeadLetterFilter(since=T0), None, 10, False)] == [
            "new-0",
            "new-1",
        ]
    finally:
        await store.client.drop_database(mongo_db_name)
        await store.close()
