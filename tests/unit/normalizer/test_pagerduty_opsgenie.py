"""PagerDuty V3 and Opsgenie mappers against the real bodies in tests/fixtures/{pagerduty,opsgenie}."""

import pytest

from normalizer.errors import UnmappableDelivery
from normalizer.rules import MappingRules
from schemas.catalog import ServiceCatalog, ServiceEntry
from schemas.events import IncidentOpened, IncidentResolved
from schemas.ids import stable_id
from tests.unit.normalizer.factories import (
    RECEIVED_AT,
    fixture_bytes,
    fixture_json,
    of_kind,
    opsgenie,
    pagerduty,
    run,
    single,
    utc,
)

ALL_PRIORITIES = MappingRules(opsgenie_match="")


def test_pagerduty_triggered_opens() -> None:
    opened = single(run(pagerduty(fixture_bytes("pagerduty", "incident_triggered__v3.json"))), IncidentOpened)
    assert opened.incident_id == "pagerduty:PFQZPSY"
    assert opened.id == stable_id("incident_opened", "pagerduty:PFQZPSY")
    assert opened.started_at == utc("2021-06-04T13:35:29.781Z")  # no data.created_at: occurred_at
    assert (opened.service, opened.environment, opened.production) == ("pig208", "production", True)
    assert (opened.severity, opened.title) == ("high", "Test Incident 3")
    assert opened.url == "https://pig208.pagerduty.com/incidents/PFQZPSY"


def test_pagerduty_resolved_resolves() -> None:
    events = run(pagerduty(fixture_bytes("pagerduty", "incident_resolved__v3.json")))
    resolved = single(of_kind(events, IncidentResolved), IncidentResolved)
    assert resolved.incident_id == "pagerduty:PCPZE64"
    assert resolved.resolved_at == utc("2021-06-04T13:16:53.816Z")


def test_pagerduty_triggered_then_resolved_of_one_incident() -> None:
    # the fixtures are three different incidents (fixtures README): the link is built here
    triggered = fixture_json("pagerduty", "incident_triggered__v3.json")
    resolved = fixture_json("pagerduty", "incident_triggered__v3.json")
    resolved["event"].update(event_type="incident.resolved", occurred_at="2021-06-04T14:05:29.781Z", id="E2")
    resolved["event"]["data"]["status"] = "resolved"
    opened = single(run(pagerduty(triggered)), IncidentOpened)
    events = run(pagerduty(resolved))
    end = single(of_kind(events, IncidentResolved), IncidentResolved)
    assert end.incident_id == opened.incident_id
    assert (end.resolved_at - opened.started_at).total_seconds() == 1800


@pytest.mark.parametrize(
    "name", ["incident_acknowledged__v3.json", "incident_priority_updated__v3_signed_go_pagerduty.json"]
)
def test_pagerduty_other_event_types_give_nothing(name: str) -> None:
    assert run(pagerduty(fixture_bytes("pagerduty", name))) == []


def test_pagerduty_urgency_and_priority_filter() -> None:
    body = fixture_json("pagerduty", "incident_triggered__v3.json")
    body["event"]["data"]["urgency"] = "low"
    assert run(pagerduty(body)) == []
    assert len(run(pagerduty(body), MappingRules(pagerduty_match=""))) == 1
    body["event"]["data"]["priority"] = {"summary": "P1"}
    only_p1 = MappingRules(pagerduty_match='priority="P1"')
    assert single(run(pagerduty(body), only_p1), IncidentOpened).severity == "P1"


def test_pagerduty_service_from_the_catalog_by_id_or_name() -> None:
    raw = fixture_bytes("pagerduty", "incident_triggered__v3.json")
    by_id = MappingRules(catalog=ServiceCatalog(services={"checkout": ServiceEntry(aliases=["PA2P440"])}))
    assert single(run(pagerduty(raw), by_id), IncidentOpened).service == "checkout"
    by_name = MappingRules(catalog=ServiceCatalog(services={"payments": ServiceEntry(aliases=["pig208"])}))
    assert single(run(pagerduty(raw), by_name), IncidentOpened).service == "payments"


def test_pagerduty_missing_service_dead_letters_naming_the_field() -> None:
    body = fixture_json("pagerduty", "incident_triggered__v3.json")
    del body["event"]["data"]["service"]
    with pytest.raises(UnmappableDelivery) as e:
        run(pagerduty(body))
    assert e.value.field == "event.data.service"


def test_opsgenie_create_opens() -> None:
    raw = fixture_bytes("opsgenie", "alert_create.json")
    assert run(opsgenie(raw)) == []  # priority 3 (P3) is outside the default P1|P2
    opened = single(run(opsgenie(raw), ALL_PRIORITIES), IncidentOpened)
    assert opened.incident_id == "opsgenie:ec03dad6-62c8-4c94-b38b-d88f398e900f"
    assert opened.started_at == utc("2017-08-14T11:25:56.288Z")  # createdAt 1502709956288 ms
    assert (opened.severity, opened.title, opened.service) == ("P3", "another alert", "server")  # entity


def test_opsgenie_close_resolves_at_updated_at_nanoseconds() -> None:
    events = run(opsgenie(fixture_bytes("opsgenie", "alert_close.json")), ALL_PRIORITIES)
    resolved = single(of_kind(events, IncidentResolved), IncidentResolved)
    assert resolved.started_at == utc("2015-01-05T10:03:11.104Z")  # createdAt 1420452191104 ms
    assert resolved.resolved_at == utc("2015-01-05T10:06:14.669001Z")  # updatedAt 1420452374669001603 ns
    assert resolved.service == "unknown"  # no details, tags or entity


def test_opsgenie_service_and_environment_from_tags_cause_from_details() -> None:
    body = fixture_json("opsgenie", "alert_create.json")
    body["alert"]["tags"] = ["vip", "Service:payments", "env:staging"]
    body["alert"]["details"] = {"service": "not-read", "commit_sha": "abc1234"}
    opened = single(run(opsgenie(body), ALL_PRIORITIES), IncidentOpened)
    assert (opened.service, opened.environment, opened.production) == ("payments", "staging", False)
    assert opened.cause_sha == "abc1234"


def test_opsgenie_priority_filter_p1() -> None:
    body = fixture_json("opsgenie", "alert_create.json")
    body["alert"]["priority"] = "P1"
    assert len(run(opsgenie(body))) == 1


def test_opsgenie_other_actions_give_nothing() -> None:
    body = fixture_json("opsgenie", "alert_create.json")
    body["action"] = "AddNote"
    assert run(opsgenie(body), ALL_PRIORITIES) == []


def test_opsgenie_close_without_updated_at_resolves_when_received() -> None:
    body = fixture_json("opsgenie", "alert_close.json")
    del body["alert"]["updatedAt"]
    resolved = of_kind(run(opsgenie(body), ALL_PRIORITIES), IncidentResolved)[0]
    assert resolved.resolved_at == RECEIVED_AT
