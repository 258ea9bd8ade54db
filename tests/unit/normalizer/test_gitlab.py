"""GitLab mapper against the real hook bodies in tests/fixtures/gitlab; every fixture maps (or is
ignored on purpose) with hand-checked expected events."""

import pytest

from normalizer.errors import UnmappableDelivery
from normalizer.rules import MappingRules
from schemas.events import (
    ChangePushed,
    Deployment,
    DeploymentStatus,
    IncidentOpened,
    IncidentResolved,
    PipelineRunFinished,
    PullRequestMerged,
)
from schemas.ids import stable_id
from tests.unit.normalizer.factories import fixture_bytes, fixture_json, gitlab, of_kind, run, single, utc

HELLO = "gitlab-org/hello-world"


def test_push_hook_gives_one_change_per_commit_in_utc() -> None:
    events = run(gitlab("Push Hook", fixture_bytes("gitlab", "push_hook__merge_commit_two_commits.json")))
    changes = of_kind(events, ChangePushed)
    assert len(events) == len(changes) == 2
    push_id = stable_id(
        "push",
        "gitlab:4861503",
        "refs/heads/master",
        "2adc9465c4edfc33834e173fe89436a7cb899a1d",
        "78a76ee6b4992a6baf64c59fc4c44c7323d60438",
    )
    first, second = changes
    assert (first.sha, first.position, first.push_id) == ("c4c79227ed610f1151f05bbc5be33b4f340d39c8", 0, push_id)
    assert first.commit_time == utc("2017-12-10T16:28:36Z")  # 08:28:36-08:00
    assert second.commit_time == utc("2017-12-10T17:08:06Z")
    assert (first.service, first.repo, first.branch) == (HELLO, HELLO, "master")
    assert first.id == stable_id("change", push_id, first.sha)
    assert second.push_after == "78a76ee6b4992a6baf64c59fc4c44c7323d60438"


def test_single_commit_push_chains_onto_the_next_push() -> None:
    first = single(run(gitlab("Push Hook", fixture_bytes("gitlab", "push_hook.json"))), ChangePushed)
    second = of_kind(
        run(gitlab("Push Hook", fixture_bytes("gitlab", "push_hook__merge_commit_two_commits.json"))), ChangePushed
    )
    assert first.push_after == second[0].push_before  # the fixture pair is a real sequence


def test_tag_push_and_branch_deletion_give_nothing() -> None:
    tag = fixture_json("gitlab", "push_hook.json")
    tag["ref"] = "refs/tags/v1"
    assert run(gitlab("Push Hook", tag)) == []
    deleted = fixture_json("gitlab", "push_hook.json")
    deleted["after"] = "0" * 40
    assert run(gitlab("Push Hook", deleted)) == []


def test_merge_request_merged() -> None:
    merged = single(
        run(gitlab("Merge Request Hook", fixture_bytes("gitlab", "merge_request_hook__merged.json"))), PullRequestMerged
    )
    assert merged.merged_at == utc("2017-12-10T17:08:07Z")  # no merged_at: the update that merged it
    assert (merged.number, merged.base_branch, merged.repo) == (1, "master", HELLO)
    assert merged.merge_sha == "78a76ee6b4992a6baf64c59fc4c44c7323d60438"
    assert merged.id == stable_id("pr_merged", "gitlab", "6632669")


def test_merge_request_other_actions_give_nothing() -> None:
    body = fixture_json("gitlab", "merge_request_hook__merged.json")
    body["object_attributes"]["action"] = "update"
    assert run(gitlab("Merge Request Hook", body)) == []


def test_deployment_running_then_success_is_one_deployment() -> None:
    running = single(
        run(gitlab("Deployment Hook", fixture_bytes("gitlab", "deployment_hook__running.json"))), Deployment
    )
    success = single(
        run(gitlab("Deployment Hook", fixture_bytes("gitlab", "deployment_hook__success.json"))), Deployment
    )
    assert running.deployment_id == success.deployment_id == "gitlab:988572802"
    assert running.id != success.id
    assert (running.status, running.started_at, running.finished_at) == (
        DeploymentStatus.IN_PROGRESS,
        utc("2025-05-02T11:54:46Z"),
        None,
    )
    assert (success.status, success.finished_at) == (DeploymentStatus.SUCCESS, utc("2025-05-02T11:55:16Z"))
    assert success.sha == "58793660b22d6ceacbdc23b28a0562bca339702c"  # from commit_url: short_sha is 8 characters
    assert (success.environment, success.production, success.service) == ("production", True, "vedant8600317/test")
    assert success.url == "https://gitlab.com/vedant8600317/test/-/jobs/9905389091"


def test_failed_and_canceled_deployments() -> None:
    failed = single(run(gitlab("Deployment Hook", fixture_bytes("gitlab", "deployment_hook__failed.json"))), Deployment)
    assert (failed.deployment_id, failed.status) == ("gitlab:988604916", DeploymentStatus.FAILURE)
    assert failed.finished_at == utc("2025-05-02T12:30:19Z")
    canceled = fixture_json("gitlab", "deployment_hook__failed.json")
    canceled["status"] = "canceled"
    assert single(run(gitlab("Deployment Hook", canceled)), Deployment).status is DeploymentStatus.ERROR


def test_deployment_tier_production_counts_as_production() -> None:
    body = fixture_json("gitlab", "deployment_hook__success.json")
    body["environment"] = "live-eu"
    assert single(run(gitlab("Deployment Hook", body)), Deployment).production is True
    body["environment_tier"] = "staging"
    assert single(run(gitlab("Deployment Hook", body)), Deployment).production is False


def test_pipeline_hook_finished() -> None:
    run_ = single(run(gitlab("Pipeline Hook", fixture_bytes("gitlab", "pipeline_hook.json"))), PipelineRunFinished)
    assert (run_.run_id, run_.outcome) == ("gitlab:31", "success")
    assert (run_.started_at, run_.finished_at) == (utc("2016-08-12T15:23:28Z"), utc("2016-08-12T15:26:29Z"))
    assert run_.sha == "bcbb5ec396a2c0f828686f14fac9b80b780504f2"


def test_pipeline_still_running_gives_nothing() -> None:
    body = fixture_json("gitlab", "pipeline_hook.json")
    body["object_attributes"]["status"] = "running"
    body["object_attributes"]["finished_at"] = None
    assert run(gitlab("Pipeline Hook", body)) == []


def test_incident_opened_then_closed_as_work_item_and_issue() -> None:
    opened = run(gitlab("Issue Hook", fixture_bytes("gitlab", "issue_hook__incident_opened.json")))
    closed = run(gitlab("Issue Hook", fixture_bytes("gitlab", "issue_hook__incident_closed.json")))
    incident = single(opened, IncidentOpened)
    assert incident.incident_id == "gitlab-issue:191205280"
    assert incident.started_at == utc("2026-05-28T06:09:06.964Z")
    assert incident.severity is None  # GitLab's "unknown"
    assert [type(e) for e in closed] == [IncidentOpened, IncidentResolved]
    assert closed[0].id == incident.id  # the same incident, whatever the object kind
    resolved = of_kind(closed, IncidentResolved)[0]
    assert resolved.resolved_at == utc("2026-05-28T06:11:46.057Z")
    assert resolved.service == "sathwikshetty33-group/mvc"


def test_plain_issue_is_an_incident_only_with_the_label() -> None:
    raw = fixture_bytes("gitlab", "issue_hook__closed_with_label.json")
    assert run(gitlab("Issue Hook", raw)) == []  # labelled "critical", no type
    events = run(gitlab("Issue Hook", raw), MappingRules(incident_label="critical"))
    resolved = single(of_kind(events, IncidentResolved), IncidentResolved)
    assert (resolved.started_at, resolved.resolved_at) == (utc("2017-12-10T16:37:38Z"), utc("2017-12-10T16:41:28Z"))


def test_root_cause_line_names_the_sha() -> None:
    body = fixture_json("gitlab", "issue_hook__incident_opened.json")
    body["object_attributes"]["description"] = "Checkout down.\nroot cause: 58793660b22d6cea\n"
    assert single(run(gitlab("Issue Hook", body)), IncidentOpened).cause_sha == "58793660b22d6cea"


@pytest.mark.parametrize("event", ["Tag Push Hook", "Note Hook", "Job Hook", "Release Hook"])
def test_other_hooks_give_nothing(event: str) -> None:
    assert run(gitlab(event, fixture_bytes("gitlab", "push_hook.json"))) == []


def test_bad_time_dead_letters_naming_the_field() -> None:
    body = fixture_json("gitlab", "deployment_hook__success.json")
    body["status_changed_at"] = "yesterday"
    with pytest.raises(UnmappableDelivery) as e:
        run(gitlab("Deployment Hook", body))
    assert e.value.field == "status_changed_at"


def test_mapping_is_deterministic() -> None:
    for name, event in (
        ("push_hook.json", "Push Hook"),
        ("deployment_hook__success.json", "Deployment Hook"),
        ("issue_hook__incident_closed.json", "Issue Hook"),
    ):
        raw = fixture_bytes("gitlab", name)
        assert run(gitlab(event, raw)) == run(gitlab(event, raw))
