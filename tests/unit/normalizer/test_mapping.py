"""map_delivery: the registry, purity and determinism over every fixture, and dead-letter errors."""

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from normalizer.errors import UnmappableDelivery
from normalizer.mapping import MAPPERS, map_delivery
from schemas.events import EVENT_LIST_ADAPTER, event_from_json, event_to_json
from schemas.raw import RawDelivery
from schemas.sources import Source
from tests.unit.normalizer.factories import (
    CE_TYPES,
    DEFAULT_RULES,
    FIXTURES,
    alertmanager,
    cdevents,
    fixture_json,
    github,
    gitlab,
    jenkins,
    make_delivery,
    opsgenie,
    pagerduty,
    run,
    utc,
)

# the X-Gitlab-Event each GitLab fixture came with (fixtures README)
GITLAB_EVENTS = {
    "push": "Push Hook",
    "merge_request_hook": "Merge Request Hook",
    "pipeline_hook": "Pipeline Hook",
    "deployment_hook": "Deployment Hook",
    "issue_hook": "Issue Hook",
    "push_hook": "Push Hook",
}


def test_every_source_has_a_mapper() -> None:
    assert set(MAPPERS) == set(Source)


def _all_fixture_deliveries() -> list[Any]:
    params = []
    for path in sorted(FIXTURES.glob("*/*.json")):
        source, name = path.parent.name, path.name
        if name.startswith("outbound_webhook"):
            continue  # unsupported sender, tested to be rejected
        if source == "github":
            delivery = github(name.split("__")[0], path.read_bytes())
        elif source == "jenkins":
            body = fixture_json("jenkins", name) if name.endswith("__gitter.json") else path.read_bytes()
            delivery = jenkins(body, ce_type=CE_TYPES.get(name))
        elif source == "gitlab":
            delivery = gitlab(GITLAB_EVENTS[name.split("__")[0].removesuffix(".json")], path.read_bytes())
        elif source == "pagerduty":
            delivery = pagerduty(path.read_bytes())
        elif source == "opsgenie":
            delivery = opsgenie(path.read_bytes())
        elif source == "cdevents":
            delivery = cdevents(path.read_bytes())
        else:
            delivery = alertmanager(path.read_bytes())
        params.append(pytest.param(delivery, id=f"{source}/{Path(name).stem}"))
    return params


@pytest.mark.parametrize("delivery", _all_fixture_deliveries())
def test_mapping_is_pure_and_deterministic(delivery: RawDelivery) -> None:
    first = map_delivery(delivery, DEFAULT_RULES)
    again = map_delivery(delivery.model_copy(update={"delivery_id": "redelivered"}), DEFAULT_RULES)
    assert [e.id for e in first] == [e.id for e in again]
    assert [e.model_dump(exclude={"delivery_id"}) for e in first] == [
        e.model_dump(exclude={"delivery_id"}) for e in again
    ]
    for event in first:
        assert event.delivery_id == delivery.delivery_id
        assert event.received_at == delivery.received_at
        assert event.source is delivery.source
        assert event.event_time.utcoffset() == timedelta(0)
        assert event_from_json(event_to_json(event)) == event  # the wire form round-trips
    assert EVENT_LIST_ADAPTER.validate_python(first) == first


@pytest.mark.parametrize("delivery", _all_fixture_deliveries())
def test_an_already_parsed_body_maps_the_same(delivery: RawDelivery) -> None:
    try:
        parsed = orjson.loads(delivery.body)
    except orjson.JSONDecodeError:
        pytest.skip("not a JSON body: ingest would not have parsed it")
    assert map_delivery(delivery, DEFAULT_RULES, parsed) == map_delivery(delivery, DEFAULT_RULES)


def test_fixture_set_yields_each_event_kind_it_can() -> None:
    kinds = {e.kind for p in _all_fixture_deliveries() for e in run(p.values[0])}
    # merged PRs come from GitLab's merge request hook and CDEvents' change.merged (GitHub's fixtures
    # have none: fixtures README, Gaps)
    assert kinds == {"change", "pr_merged", "deployment", "pipeline_run", "incident_opened", "incident_resolved"}


def test_naive_receive_time_is_taken_as_utc() -> None:
    delivery = github(
        "push",
        fixture_json("github", "push__single_commit.json"),
        received_at=utc("2026-01-02T03:04:05Z").replace(tzinfo=None),
    )
    assert run(delivery)[0].received_at == utc("2026-01-02T03:04:05Z")


def _changed(name: str, change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    """A real GitHub fixture with one value broken, to check the error names it."""
    body = fixture_json("github", name)
    change(body)
    return body


def _closed_incident_without_closed_at(body: dict[str, Any]) -> None:
    body["issue"]["labels"][0]["name"] = "incident"
    body["issue"]["state"] = "closed"  # closed_at stays null


@pytest.mark.parametrize(
    ("delivery", "field", "reason"),
    [
        pytest.param(github("push", b"{not json"), None, "body is not JSON", id="github-not-json"),
        pytest.param(github("push", b"[1, 2]"), None, "body is a JSON array, expected an object", id="github-array"),
        pytest.param(jenkins(b'"COMPLETED"'), None, "body is a JSON string", id="jenkins-string"),
        pytest.param(alertmanager(b""), None, "body is not JSON", id="alertmanager-empty"),
        pytest.param(
            make_delivery(
                Source.GITHUB, "push", b"zen=1", headers={"content-type": "application/x-www-form-urlencoded"}
            ),
            "payload",
            "no 'payload' field",
            id="github-form-without-payload",
        ),
        pytest.param(github("push", b'{"ref": 5}'), "ref", "is a JSON number, expected a string", id="push-ref-number"),
        pytest.param(
            github("push", _changed("push__single_commit.json", lambda b: b.update(commits=None))),
            "commits",
            "is missing",
            id="push-commits-null",
        ),
        pytest.param(
            github("push", _changed("push__single_commit.json", lambda b: b["commits"][0].update(timestamp="today"))),
            "commits[0].timestamp",
            "RFC 3339",
            id="push-commit-time",
        ),
        pytest.param(
            github(
                "deployment_status", _changed("deployment_status__success.json", lambda b: b.update(deployment="x"))
            ),
            "deployment",
            "expected an object",
            id="deployment-string",
        ),
        pytest.param(
            github(
                "deployment_status",
                _changed("deployment_status__success.json", lambda b: b["deployment"].update(id=True)),
            ),
            "deployment.id",
            "is a JSON boolean, expected an id",
            id="deployment-id-boolean",
        ),
        pytest.param(
            github(
                "pull_request",
                _changed("pull_request__closed_not_merged.json", lambda b: b["pull_request"].update(merged=True)),
            ),
            "pull_request.merged_at",
            "is missing",
            id="merged-without-merged-at",
        ),
        pytest.param(
            github(
                "workflow_run",
                _changed("workflow_run__completed_success.json", lambda b: b["workflow_run"].update(conclusion=None)),
            ),
            "workflow_run.conclusion",
            "is missing",
            id="completed-run-without-conclusion",
        ),
        pytest.param(
            github("issues", _changed("issues__labeled.json", _closed_incident_without_closed_at)),
            "issue.closed_at",
            "is missing",
            id="closed-incident-without-closed-at",
        ),
    ],
)
def test_unmappable_names_field_and_delivery(delivery: RawDelivery, field: str | None, reason: str) -> None:
    with pytest.raises(UnmappableDelivery, match=reason) as caught:
        map_delivery(delivery, DEFAULT_RULES)
    error = caught.value
    assert error.field == field
    assert (error.source, error.delivery_id, error.event_type) == (
        delivery.source,
        delivery.delivery_id,
        delivery.event_type,
    )
    assert f"delivery '{delivery.delivery_id}'" in str(error)
    assert isinstance(error, ValueError)
