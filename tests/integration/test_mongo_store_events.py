"""MongoStore's events on the real MongoDB-wire server: each document's index fields and payload,
the caller's JSON reused as the payload, and duplicates that change nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from metricsync.mongo.store import MongoStore
from metricsync.settings import Settings
from metricsync.simulation.workload import MixedWorkload
from normalizer.mapping import map_delivery
from schemas.events import Deployment, IncidentFields, UnifiedEvent, event_from_json, event_to_json

pytestmark = pytest.mark.servers

END = datetime(2026, 11, 1, tzinfo=UTC)


def _one_of_each_kind() -> list[UnifiedEvent]:
    rules = Settings().mapping_rules()
    by_kind: dict[str, UnifiedEvent] = {}
    for generated in MixedWorkload(4, 200, end=END, days=30, prefix="store"):
        for event in map_delivery(generated.delivery, rules):
            by_kind.setdefault(event.kind, event)
    assert {"change", "deployment", "incident_opened", "incident_resolved"} <= set(by_kind), sorted(by_kind)
    return list(by_kind.values())


async def test_events_are_stored_with_their_index_fields_once(mongo_uri: str, mongo_db_name: str) -> None:
    events = _one_of_each_kind()
    store = MongoStore.connect(mongo_uri, mongo_db_name)
    try:
        await store.init()
        half = len(events) // 2
        # the first half with the JSON the normalizer published, the rest serialized by the store
        assert await store.put_events(events[:half], [event_to_json(e) for e in events[:half]]) == events[:half]
        assert await store.put_events(events) == events[half:]  # the stored ones are not new
        assert await store.put_events(events, [event_to_json(e) for e in events]) == []
        assert await store.event_count() == len(events)
        docs = {doc["event_id"]: doc async for doc in store.db[store.names.events].find({})}
        for event in events:
            doc = docs[event.id]
            expected_environment = event.environment if isinstance(event, Deployment | IncidentFields) else None
            assert doc["meta"] == {
                "service": event.service,
                "source": event.source.value,
                "kind": event.kind,
                "environment": expected_environment,
            }
            assert event_from_json(bytes(doc["payload"])) == event
        assert any(doc["meta"]["environment"] is None for doc in docs.values())  # a change has none
        assert any(doc["meta"]["environment"] == "production" for doc in docs.values())
    finally:
        await store.db.client.drop_database(mongo_db_name)
        await store.close()
