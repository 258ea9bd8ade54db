"""Alertmanager mapper against the real v4 bodies in tests/fixtures/alertmanager."""

from typing import Any

import pytest

from normalizer.alert_labels import label_fingerprint
from normalizer.errors import UnmappableDelivery
from normalizer.rules import MappingRules
from schemas.catalog import ServiceCatalog, ServiceEntry
from schemas.events import IncidentOpened, IncidentResolved
from schemas.ids import stable_id
from tests.unit.normalizer.factories import (
    RECEIVED_AT,
    alertmanager,
    fixture_bytes,
    fixture_json,
    of_kind,
    run,
    single,
    utc,
)

TWO_FIRING = "webhook_v4__firing_two_alerts.json"
RESOLVED_FULL = "webhook_v4__resolved_single_full.json"
RESOLVED_MINIMAL = "webhook_v4__resolved_two_alerts_minimal.json"
LEGACY = "webhook_v4__firing_legacy_no_alert_status_fingerprint.json"
ANDROMEDA_A = "alertmanager:a1bc48475b20e73d@2020-02-06T00:17:58.432911Z"
ANDROMEDA_B = "alertmanager:c2ea85182f28cbd9@2020-02-06T00:17:58.432911Z"
MATCH_ALL = MappingRules(alert_match="")


def test_firing_group_opens_one_incident_per_alert() -> None:
    events = run(alertmanager(fixture_bytes("alertmanager", TWO_FIRING)))
    opened = of_kind(events, IncidentOpened)
    assert len(events) == len(opened) == 2
    assert [e.incident_id for e in opened] == [ANDROMEDA_A, ANDROMEDA_B]
    assert [e.id for e in opened] == [
        stable_id("incident_opened", ANDROMEDA_A),
        stable_id("incident_opened", ANDROMEDA_B),
    ]
    first = opened[0]
    assert first.started_at == first.event_time == utc("2020-02-06T00:17:58.432911Z")  # ...58.432911368Z
    assert (first.environment, first.production, first.severity) == ("production", True, "critical")
    assert first.service == "unknown"  # none of service/app/job
    assert first.title == "High CPU core temperature"
    assert (first.url or "").startswith("http://cobalt:9090/graph?g0.expr=")
    assert (first.cause_deployment_id, first.cause_sha) == (None, None)
    assert first.received_at == RECEIVED_AT


def test_repeated_group_notification_gives_the_same_ids() -> None:
    raw = fixture_bytes("alertmanager", TWO_FIRING)
    first = run(alertmanager(raw, delivery_id="sha-of-body"))
    # repeat_interval later: same group, same alerts, a new delivery
    again = run(alertmanager(raw, delivery_id="sha-of-body-2", received_at=utc("2026-01-02T07:04:05Z")))
    assert [e.id for e in first] == [e.id for e in again]


def _mixed_group() -> dict[str, Any]:
    # No real mixed group exists (fixtures README, Gaps): in the real two-alert firing group, the
    # second alert is marked resolved with an end time, while the group stays "firing".
    body = fixture_json("alertmanager", TWO_FIRING)
    body["alerts"][1]["status"] = "resolved"
    body["alerts"][1]["endsAt"] = "2020-02-06T00:27:58.5-05:00"
    return body


def test_resolved_alert_in_a_firing_group() -> None:
    assert fixture_json("alertmanager", TWO_FIRING)["status"] == "firing"
    events = run(alertmanager(_mixed_group()))
    opened = of_kind(events, IncidentOpened)
    resolved = single(of_kind(events, IncidentResolved), IncidentResolved)
    assert [e.incident_id for e in opened] == [ANDROMEDA_A, ANDROMEDA_B]
    assert resolved.incident_id == ANDROMEDA_B
    assert resolved.id == stable_id("incident_resolved", ANDROMEDA_B, None)
    assert resolved.resolved_at == resolved.event_time == utc("2020-02-06T05:27:58.5Z")
    assert resolved.started_at == utc("2020-02-06T00:17:58.432911Z")
    # the opened events are the ones the earlier all-firing notification gave
    before = run(alertmanager(fixture_bytes("alertmanager", TWO_FIRING)))
    assert [e.id for e in opened] == [e.id for e in before]


def test_resolved_single_alert() -> None:
    rules = MappingRules(alert_match='alertname="CPUThrottlingHigh"', alert_service_labels=("container_name",))
    events = run(alertmanager(fixture_bytes("alertmanager", RESOLVED_FULL)), rules)
    opened = single(of_kind(events, IncidentOpened), IncidentOpened)
    resolved = single(of_kind(events, IncidentResolved), IncidentResolved)
    assert opened.incident_id == resolved.incident_id == "alertmanager:dd19ae3d4e06ac55@2019-01-28T20:26:23.868893Z"
    assert opened.started_at == utc("2019-01-28T20:26:23.868893Z")
    assert resolved.resolved_at == utc("2019-01-28T20:27:23.868893Z")
    assert resolved.service == opened.service == "config-reloader"
    assert opened.severity == "warning"
    assert opened.title == "CPU throttling"
    assert (opened.url or "").endswith("%3E+25&g0.tab=1")  # Go's \u0026 escape decoded


@pytest.mark.parametrize(
    ("name", "count"),
    [
        pytest.param(TWO_FIRING, 2, id="critical-counts"),
        pytest.param(RESOLVED_FULL, 0, id="warning-does-not"),
        pytest.param(LEGACY, 0, id="legacy-warning-does-not"),
        pytest.param(RESOLVED_MINIMAL, 2, id="only-the-critical-one-opened-and-resolved"),
    ],
)
def test_default_alert_match(name: str, count: int) -> None:
    assert len(run(alertmanager(fixture_bytes("alertmanager", name)))) == count


def test_minimal_body_resolves_the_matching_alert() -> None:
    events = run(alertmanager(fixture_bytes("alertmanager", RESOLVED_MINIMAL)))
    resolved = single(of_kind(events, IncidentResolved), IncidentResolved)
    assert resolved.title == "Disk usage alert on CS31.evilcorp"
    assert resolved.started_at == utc("2017-05-09T07:01:37.803Z")
    assert resolved.resolved_at == utc("2017-05-09T07:08:37.81827Z")
    assert resolved.severity == "critical"


def test_one_occurrence_listed_twice_gives_one_event_each() -> None:
    # this real body lists two alerts with the same fingerprint and startsAt (copied by hand upstream)
    events = run(alertmanager(fixture_bytes("alertmanager", RESOLVED_MINIMAL)), MATCH_ALL)
    assert len(events) == len({e.id for e in events}) == 2
    assert single(of_kind(events, IncidentResolved), IncidentResolved).title == "Disk usage alert on CS30.evilcorp"


def test_legacy_alert_without_status_and_fingerprint() -> None:
    events = run(alertmanager(fixture_bytes("alertmanager", LEGACY)), MappingRules(alert_match='severity="warning"'))
    opened = single(events, IncidentOpened)  # group status "firing" stands for the alert's
    labels = fixture_json("alertmanager", LEGACY)["alerts"][0]["labels"]
    assert opened.incident_id == f"alertmanager:{label_fingerprint(labels)}@2018-03-07T11:33:21.873077Z"
    assert opened.started_at == utc("2018-03-07T11:33:21.873077Z")  # 06:33:21.873077559-05:00
    assert opened.service == "docker_nodes"  # the `job` label
    assert opened.url is None


def test_legacy_alert_takes_a_resolved_group_status() -> None:
    # the real legacy firing group, marked resolved as a whole with a real end time
    body = fixture_json("alertmanager", LEGACY)
    body["status"] = "resolved"
    body["alerts"][0]["endsAt"] = "2018-03-07T06:43:21Z"
    events = run(alertmanager(body), MATCH_ALL)
    assert single(of_kind(events, IncidentResolved), IncidentResolved).resolved_at == utc("2018-03-07T06:43:21Z")


def test_resolved_without_end_time_uses_receive_time() -> None:
    body = fixture_json("alertmanager", TWO_FIRING)
    body["alerts"][0]["status"] = "resolved"  # endsAt stays 0001-01-01T00:00:00Z
    resolved = single(of_kind(run(alertmanager(body)), IncidentResolved), IncidentResolved)
    assert resolved.resolved_at == RECEIVED_AT


def test_fingerprint_is_alertmanagers_own() -> None:
    # the first alert of Zulip's real capture carries the fingerprint Alertmanager computed
    alert = fixture_json("alertmanager", TWO_FIRING)["alerts"][0]
    assert label_fingerprint(alert["labels"]) == alert["fingerprint"] == "a1bc48475b20e73d"
    assert label_fingerprint({}) == "cbf29ce484222325"  # FNV-1a offset basis: Prometheus' empty set


@pytest.mark.parametrize(
    ("labels", "environment", "production"),
    [
        pytest.param({}, "production", True, id="absent-is-production"),
        pytest.param({"environment": "prod-eu"}, "prod-eu", True, id="environment-prod-eu"),
        pytest.param({"env": "staging"}, "staging", False, id="env-staging"),
        pytest.param({"environment": "production", "env": "staging"}, "production", True, id="first-label-wins"),
    ],
)
def test_alert_environment(labels: dict[str, str], environment: str, production: bool) -> None:
    body = fixture_json("alertmanager", TWO_FIRING)
    body["alerts"][0]["labels"].update(labels)
    opened = of_kind(run(alertmanager(body)), IncidentOpened)[0]
    assert (opened.environment, opened.production) == (environment, production)


@pytest.mark.parametrize(
    ("labels", "service"),
    [
        pytest.param({"service": "Checkout", "app": "x", "job": "y"}, "checkout", id="service-first"),
        pytest.param({"app": "payments-api", "job": "y"}, "payments", id="app-through-catalog"),
        pytest.param({"job": "node_exporter"}, "node_exporter", id="job-last"),
        pytest.param({}, "unknown", id="none"),
    ],
)
def test_alert_service(labels: dict[str, str], service: str) -> None:
    catalog = ServiceCatalog(services={"payments": ServiceEntry(aliases=["payments-api"])})
    body = fixture_json("alertmanager", TWO_FIRING)
    body["alerts"][0]["labels"].update(labels)
    assert of_kind(run(alertmanager(body), MappingRules(catalog=catalog)), IncidentOpened)[0].service == service


def test_explicit_cause_from_annotation_or_label() -> None:
    body = fixture_json("alertmanager", TWO_FIRING)
    body["alerts"][0]["annotations"]["deployment_id"] = "github:145988746"
    body["alerts"][1]["labels"]["commit_sha"] = "199eddf46df50de8d02e99bf1c5fdb4101338224"
    first, second = of_kind(run(alertmanager(body)), IncidentOpened)
    assert (first.cause_deployment_id, first.cause_sha) == ("github:145988746", None)
    assert (second.cause_deployment_id, second.cause_sha) == (None, "199eddf46df50de8d02e99bf1c5fdb4101338224")


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        pytest.param(lambda b: b.pop("alerts"), "alerts", "is missing", id="no-alerts"),
        pytest.param(lambda b: b.update(alerts={}), "alerts", "expected an array", id="alerts-object"),
        pytest.param(lambda b: b["alerts"].append("x"), "alerts[2]", "expected an object", id="alert-string"),
        pytest.param(lambda b: b["alerts"][0].pop("startsAt"), "alerts[0].startsAt", "is missing", id="no-start"),
        pytest.param(
            lambda b: b["alerts"][1].update(startsAt="06/02/2020"), "alerts[1].startsAt", "RFC 3339", id="bad-start"
        ),
        pytest.param(
            lambda b: b["alerts"][0]["labels"].update(severity=1), "alerts[0].labels.severity", "string", id="label-int"
        ),
        pytest.param(lambda b: b["alerts"][0].pop("labels"), "alerts[0].labels", "is missing", id="no-labels"),
        pytest.param(lambda b: b["alerts"][0].update(status="pending"), "alerts[0].status", "unknown", id="status"),
    ],
)
def test_unmappable(change: Any, field: str, reason: str) -> None:
    body = fixture_json("alertmanager", TWO_FIRING)
    change(body)
    with pytest.raises(UnmappableDelivery, match=reason) as caught:
        run(alertmanager(body, delivery_id="am-1"))
    assert caught.value.field == field
    assert str(caught.value).startswith(f"alertmanager delivery 'am-1' (alert): field '{field}'")
