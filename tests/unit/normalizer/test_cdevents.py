"""CDEvents mapper against the spec's v0.5.1 conformance examples in tests/fixtures/cdevents, in the
CloudEvents binding's binary, structured and batched modes."""

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest

from normalizer.cdevents import CONTEXT_REQUIRED, REQUIRED
from normalizer.errors import UnmappableDelivery
from schemas.events import (
    Deployment,
    DeploymentStatus,
    IncidentOpened,
    IncidentResolved,
    PipelineRunFinished,
    PullRequestMerged,
)
from schemas.ids import stable_id
from schemas.sources import cdevents_kind
from tests.unit.normalizer.factories import FIXTURES, cdevents, fixture_json, run, single, utc

SCHEMAS = FIXTURES / "cdevents" / "schemas"
SCHEMA_OF = {
    "service.deployed": "servicedeployed.json",
    "service.rolledback": "servicerolledback.json",
    "incident.detected": "incidentdetected.json",
    "incident.reported": "incidentreported.json",
    "incident.resolved": "incidentresolved.json",
    "change.merged": "changemerged.json",
    "pipelinerun.finished": "pipelinerunfinished.json",
}
BINARY = {"ce-specversion": "1.0", "ce-id": "x", "ce-source": "/s", "ce-type": "dev.cdevents.service.deployed.0.3.0"}


def _structured(cdevent: dict[str, Any]) -> dict[str, Any]:
    context = cdevent["context"]
    return {
        "specversion": "1.0",
        "id": context["id"],
        "source": context["source"],
        "type": context["type"],
        "time": context["timestamp"],
        "datacontenttype": "application/json",
        "data": cdevent,
    }


@pytest.mark.parametrize("kind", sorted(SCHEMA_OF))
def test_required_fields_match_the_spec_schemas(kind: str) -> None:
    schema = orjson.loads((SCHEMAS / SCHEMA_OF[kind]).read_bytes())
    assert tuple(schema["properties"]["context"]["required"]) == CONTEXT_REQUIRED
    assert schema["properties"]["subject"]["required"] == ["id", "content"]
    content = schema["properties"]["subject"]["properties"]["content"]
    expected = list(content.get("required", []))
    for name, prop in content["properties"].items():
        if name in expected and isinstance(prop, dict) and prop.get("required"):
            expected += [f"{name}.{sub}" for sub in prop["required"]]
    assert sorted(REQUIRED[kind]) == sorted(expected)


def test_service_deployed_in_every_mode() -> None:
    cdevent = fixture_json("cdevents", "service_deployed.json")
    bare = single(run(cdevents(cdevent)), Deployment)
    binary = single(run(cdevents(cdevent, headers=BINARY)), Deployment)
    structured = single(
        run(cdevents(_structured(cdevent), headers={"content-type": "application/cloudevents+json"})), Deployment
    )
    assert bare == binary == structured
    key = stable_id("/event/source/123", "271069a8-fc18-44f1-b38f-9d70a1695819")
    assert bare.deployment_id == f"cdevents:{key}"
    assert (bare.service, bare.environment, bare.production) == ("mysubject123", "test123", False)
    assert (bare.status, bare.finished_at, bare.rollback) == (
        DeploymentStatus.SUCCESS,
        utc("2023-03-20T14:27:05.315384Z"),
        False,
    )
    assert bare.sha is None  # the spec has no commit; customData.sha is read when sent


def test_service_deployed_custom_data_sha() -> None:
    cdevent = fixture_json("cdevents", "service_deployed.json")
    cdevent["customData"] = {"sha": "ABCDEF1234567"}
    assert single(run(cdevents(cdevent)), Deployment).sha == "abcdef1234567"


def test_rolledback_is_a_rollback() -> None:
    rollback = single(run(cdevents(fixture_json("cdevents", "service_rolledback.json"))), Deployment)
    assert rollback.rollback is True


def test_incident_detected_reported_resolved() -> None:
    detected = single(run(cdevents(fixture_json("cdevents", "incident_detected.json"))), IncidentOpened)
    assert detected.incident_id == "cdevents:/monitoring/prod1#incident-123"
    # "prod1" is not production under the default pattern (prod or production, then - _ . or nothing)
    assert (detected.service, detected.environment, detected.production) == ("myapp", "prod1", False)
    assert detected.started_at == utc("2022-11-11T13:52:20.079Z")
    assert detected.title == "Response time above threshold of 100ms"
    reported = single(run(cdevents(fixture_json("cdevents", "incident_reported.json"))), IncidentOpened)
    assert reported.incident_id == detected.incident_id  # one incident
    assert reported.id == detected.id
    resolved = single(run(cdevents(fixture_json("cdevents", "incident_resolved.json"))), IncidentResolved)
    assert resolved.incident_id == detected.incident_id


def test_change_merged_and_pipelinerun_finished() -> None:
    merged = single(run(cdevents(fixture_json("cdevents", "change_merged.json"))), PullRequestMerged)
    assert (merged.repo, merged.service, merged.number) == ("testrepo/testorg", "testrepo/testorg", 0)
    finished = single(run(cdevents(fixture_json("cdevents", "pipelinerun_finished.json"))), PipelineRunFinished)
    assert (finished.pipeline, finished.outcome) == ("myPipeline", "failure")
    assert finished.url == "https://www.example.com/mySubject123"


def test_batch_maps_every_event_and_skips_unknown_types() -> None:
    deployed = fixture_json("cdevents", "service_deployed.json")
    unknown = copy.deepcopy(deployed)
    unknown["context"]["type"] = "dev.cdevents.artifact.published.0.2.0"
    detected = fixture_json("cdevents", "incident_detected.json")
    batch = [_structured(deployed), _structured(unknown), _structured(detected)]
    events = run(cdevents(batch, headers={"content-type": "application/cloudevents-batch+json"}))
    assert [type(e) for e in events] == [Deployment, IncidentOpened]


def test_other_minor_versions_of_the_0x_line_map_and_1x_does_not() -> None:
    assert cdevents_kind("dev.cdevents.service.deployed.0.1.0") == "service.deployed"
    assert cdevents_kind("dev.cdevents.service.deployed.0.4.1-draft") == "service.deployed"
    assert cdevents_kind("dev.cdevents.service.deployed.1.0.0") is None
    assert cdevents_kind("dev.cdevents.service.published.0.1.0") is None
    assert cdevents_kind("org.example.service.deployed.0.1.0") is None


def test_unknown_type_is_ignored_not_dead_lettered() -> None:
    cdevent = fixture_json("cdevents", "service_deployed.json")
    cdevent["context"]["type"] = "dev.cdevents.taskrun.started.0.2.0"
    del cdevent["subject"]
    assert run(cdevents(cdevent)) == []


@pytest.mark.parametrize(
    ("name", "path", "field"),
    [
        pytest.param(
            "service_deployed.json",
            ("subject", "content", "environment"),
            "subject.content.environment",
            id="environment",
        ),
        pytest.param(
            "service_deployed.json", ("subject", "content", "artifactId"), "subject.content.artifactId", id="artifact"
        ),
        pytest.param(
            "incident_reported.json", ("subject", "content", "ticketURI"), "subject.content.ticketURI", id="ticket"
        ),
        pytest.param("service_deployed.json", ("context", "timestamp"), "context.timestamp", id="timestamp"),
        pytest.param("pipelinerun_finished.json", ("subject", "id"), "subject.id", id="subject-id"),
    ],
)
def test_schema_required_field_missing_dead_letters_naming_it(name: str, path: tuple[str, ...], field: str) -> None:
    cdevent = fixture_json("cdevents", name)
    parent = cdevent
    for part in path[:-1]:
        parent = parent[part]
    del parent[path[-1]]
    with pytest.raises(UnmappableDelivery) as e:
        run(cdevents(cdevent))
    assert e.value.field == field


def test_every_conformance_example_maps_deterministically() -> None:
    for path in sorted(Path(FIXTURES / "cdevents").glob("*.json")):
        raw = path.read_bytes()
        first = run(cdevents(raw))
        assert len(first) == 1, path.name
        assert first == run(cdevents(raw))
