"""Service names become service ids in one place (schemas.catalog.service_id): the catalog, the event
schema and therefore the engine, the worker and the stores all see the same id."""

import orjson
import pytest

from metrics_worker.engine import MetricEngine
from schemas.catalog import ServiceCatalog, service_id
from schemas.events import event_from_json, event_to_json
from tests.unit.metrics_worker.factories import ZERO, at, deploy, engine_of, push


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("payments", "payments", id="already-an-id"),
        pytest.param("Acme/Payments", "acme/payments", id="lower-cased"),
        pytest.param("  payments\t", "payments", id="stripped"),
    ],
)
def test_service_id(name: str, expected: str) -> None:
    assert service_id(name) == expected


def test_an_event_carries_the_service_id_whatever_it_was_given() -> None:
    event = push("p1", ZERO, [("c1", 1)])[0]
    raw = orjson.loads(event_to_json(event))
    raw["service"] = "  Acme/Payments "
    assert event_from_json(orjson.dumps(raw)).service == "acme/payments"


def test_the_catalog_resolves_to_ids() -> None:
    catalog = ServiceCatalog.model_validate({"services": {"Payments": {"aliases": [" Acme/Pay "], "team": "t"}}})
    assert catalog.resolve("ACME/PAY") == "payments"
    assert catalog.resolve(" Other ") == "other"
    assert catalog.team_services("t") == frozenset({"payments"})


def test_events_named_differently_meet_in_one_service() -> None:
    engine: MetricEngine = engine_of(
        push("p1", ZERO, [("c1", 1)], service="Svc"), deploy("d1", "c1", 2, service=" svc ")
    )
    assert [s.service for s in engine.services()] == ["svc"]
    assert engine.report(["svc"], "production", at(0), at(3)).lead_time.median_seconds == 3600.0
