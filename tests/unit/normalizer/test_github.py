"""GitHub mapper against the real payloads in tests/fixtures/github. Where GitHub has no public
example of a case, a test loads a real fixture and changes values in code (said in a comment)."""

from typing import Any
from urllib.parse import quote

import pytest

from normalizer.github import MAPPED_EVENTS
from normalizer.rules import MappingRules
from schemas.catalog import ServiceCatalog, ServiceEntry
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
from schemas.sources import GITHUB_MAPPED_EVENTS, Source
from tests.unit.normalizer.factories import (
    RECEIVED_AT,
    fixture_bytes,
    fixture_json,
    github,
    make_delivery,
    of_kind,
    run,
    single,
    utc,
)

ZEROS = "0" * 40


def test_mapped_events_match_the_contract() -> None:
    assert MAPPED_EVENTS == GITHUB_MAPPED_EVENTS


# --- events that carry nothing for the metrics ----------------------------------------------------


@pytest.mark.parametrize(
    ("event", "name"),
    [
        pytest.param("push", "push__tag_create.json", id="tag-push"),
        pytest.param("push", "push__tag_delete.json", id="tag-delete"),
        pytest.param("push", "push__branch_delete.json", id="branch-delete"),
        pytest.param("push", "push__branch_create_no_commits.json", id="branch-create-no-commits"),
        pytest.param("deployment", "deployment__created.json", id="deployment-itself"),
        pytest.param("workflow_run", "workflow_run__requested.json", id="workflow-run-requested"),
        pytest.param("workflow_job", "workflow_job__completed_failure.json", id="workflow-job"),
        pytest.param("issues", "issues__opened.json", id="issue-without-incident-label"),
        pytest.param("issues", "issues__labeled.json", id="issue-labeled-bug"),
        pytest.param("create", "create__tag.json", id="create"),
        pytest.param("delete", "delete__branch.json", id="delete"),
        pytest.param("release", "release__published.json", id="release"),
        pytest.param("check_suite", "check_suite__completed.json", id="check-suite"),
        pytest.param("ping", "ping__repository.json", id="ping"),
    ],
)
def test_nothing_for_the_metrics(event: str, name: str) -> None:
    assert run(github(event, fixture_bytes("github", name))) == []


def test_unmapped_event_types_are_not_even_parsed() -> None:
    assert run(github("star", b"not json at all")) == []


# --- push ------------------------------------------------------------------------------------------


def test_push_single_commit_with_author_offset() -> None:
    change = single(run(github("push", fixture_bytes("github", "push__single_commit.json"))), ChangePushed)
    push_id = stable_id(
        "push",
        "135493233",
        "refs/heads/master",
        "a10867b14bb761a232cd80139fbd4c0d33264240",
        "199eddf46df50de8d02e99bf1c5fdb4101338224",
    )
    assert change.model_dump() == {
        "id": stable_id("change", push_id, "199eddf46df50de8d02e99bf1c5fdb4101338224"),
        "source": Source.GITHUB,
        "delivery_id": "delivery-1",
        "service": "codertocat/hello-world",
        "event_time": utc("2018-06-15T20:01:51Z"),  # 13:01:51-07:00 in the payload
        "received_at": RECEIVED_AT,
        "kind": "change",
        "repo": "codertocat/hello-world",
        "branch": "master",
        "sha": "199eddf46df50de8d02e99bf1c5fdb4101338224",
        "commit_time": utc("2018-06-15T20:01:51Z"),
        "push_id": push_id,
        "push_before": "a10867b14bb761a232cd80139fbd4c0d33264240",
        "push_after": "199eddf46df50de8d02e99bf1c5fdb4101338224",
        "position": 0,
        "distinct": True,
    }


def test_push_creating_a_branch_with_one_commit() -> None:
    change = single(run(github("push", fixture_bytes("github", "push__new_branch_single_commit.json"))), ChangePushed)
    assert (change.sha, change.branch, change.push_before) == (
        "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "master",
        ZEROS,
    )
    assert change.commit_time == utc("2019-05-15T15:19:25Z")
    assert change.service == "codertocat/hello-world"


def _three_commit_push() -> dict[str, Any]:
    # No public multi-commit push exists (fixtures README, Gaps): the real single-commit push gets
    # two more commits, copies of its own commit with new ids, times and the distinct flag changed.
    body = fixture_json("github", "push__single_commit.json")
    first = body["commits"][0]
    second = {**first, "id": "a" * 40, "timestamp": "2018-06-16T01:45:00+05:30", "distinct": False}
    third = {**first, "id": "b" * 40, "timestamp": "2018-06-15T21:00:00Z"}
    body["commits"] = [first, second, third]
    body["after"] = "b" * 40
    body["ref"] = "refs/heads/feature/x"
    return body


def test_push_with_several_commits_gives_one_change_each_in_order() -> None:
    changes = of_kind(run(github("push", _three_commit_push())), ChangePushed)
    assert [(c.sha[:8], c.position, c.distinct, c.commit_time) for c in changes] == [
        ("199eddf4", 0, True, utc("2018-06-15T20:01:51Z")),
        ("aaaaaaaa", 1, False, utc("2018-06-15T20:15:00Z")),  # 01:45+05:30
        ("bbbbbbbb", 2, True, utc("2018-06-15T21:00:00Z")),
    ]
    assert {c.branch for c in changes} == {"feature/x"}
    assert len({c.push_id for c in changes}) == 1
    assert {c.push_after for c in changes} == {"b" * 40}
    assert len({c.id for c in changes}) == 3


def test_push_ids_are_stable_across_redelivery() -> None:
    first = run(github("push", _three_commit_push(), delivery_id="guid-1"))
    again = run(github("push", _three_commit_push(), delivery_id="guid-1-redelivered"))
    assert [e.id for e in first] == [e.id for e in again]
    assert {e.delivery_id for e in again} == {"guid-1-redelivered"}


def test_same_commit_in_another_push_is_another_event_of_the_same_sha() -> None:
    # the engine counts a commit once; here a second push (e.g. a merge to main) carries it again
    other = _three_commit_push()
    other["ref"], other["before"] = "refs/heads/main", "c" * 40
    a = of_kind(run(github("push", _three_commit_push())), ChangePushed)
    b = of_kind(run(github("push", other)), ChangePushed)
    assert [c.sha for c in a] == [c.sha for c in b]
    assert {c.id for c in a}.isdisjoint(c.id for c in b)


def test_push_without_repository_id_uses_full_name() -> None:
    body = fixture_json("github", "push__single_commit.json")
    del body["repository"]["id"]
    change = single(run(github("push", body)), ChangePushed)
    assert change.push_id == stable_id(
        "push", "Codertocat/Hello-World", "refs/heads/master", body["before"], body["after"]
    )


def test_form_encoded_body_maps_like_json() -> None:
    raw = fixture_bytes("github", "push__single_commit.json")
    form = make_delivery(
        Source.GITHUB,
        "push",
        b"payload=" + quote(raw.decode(), safe="").encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert run(form) == run(github("push", raw))


def test_service_goes_through_the_catalog() -> None:
    catalog = ServiceCatalog(services={"hello": ServiceEntry(aliases=["codertocat/hello-world"])})
    events = run(github("push", fixture_bytes("github", "push__single_commit.json")), MappingRules(catalog=catalog))
    assert single(events, ChangePushed).service == "hello"
    assert single(events, ChangePushed).repo == "codertocat/hello-world"


# --- pull_request ----------------------------------------------------------------------------------


def test_merged_pull_request() -> None:
    # No real merged example (fixtures README, Gaps): the real closed-not-merged PR is marked merged.
    body = fixture_json("github", "pull_request__closed_not_merged.json")
    body["pull_request"]["merged"] = True
    body["pull_request"]["merged_at"] = "2019-05-15T15:21:18Z"
    merged = single(run(github("pull_request", body)), PullRequestMerged)
    assert merged.id == stable_id("pr_merged", "279147437")
    assert (merged.repo, merged.number, merged.base_branch) == ("codertocat/hello-world", 2, "master")
    assert merged.head_sha == "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
    assert merged.merge_sha == "c4295bd74fb0f4fda03689c3df3f2803b658fd85"
    assert merged.merged_at == merged.event_time == utc("2019-05-15T15:21:18Z")


def test_closed_not_merged_ignores_merge_commit_sha() -> None:
    body = fixture_json("github", "pull_request__closed_not_merged.json")
    assert body["pull_request"]["merge_commit_sha"]  # a test-merge sha on an unmerged PR
    assert [e.kind for e in run(github("pull_request", body))] == ["pr_closed"]


# --- deployment_status -----------------------------------------------------------------------------


def test_deployment_status_success() -> None:
    deployment = single(
        run(github("deployment_status", fixture_bytes("github", "deployment_status__success.json"))), Deployment
    )
    assert deployment.model_dump(exclude={"received_at", "source", "delivery_id"}) == {
        "id": stable_id("deployment", "github:145988746", "209916254"),
        "service": "codertocat/hello-world",
        "event_time": utc("2019-05-15T15:20:55Z"),
        "kind": "deployment",
        "deployment_id": "github:145988746",
        "environment": "production",
        "production": True,
        "sha": "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
        "status": DeploymentStatus.SUCCESS,
        "started_at": utc("2019-05-15T15:20:53Z"),
        "finished_at": utc("2019-05-15T15:20:55Z"),
        "time_rank": 3,
        "rollback": False,
        "url": None,  # target_url is "" in the payload
    }


def test_deployment_status_in_progress_github_pages() -> None:
    deployment = single(
        run(github("deployment_status", fixture_bytes("github", "deployment_status__in_progress.json"))), Deployment
    )
    assert deployment.status is DeploymentStatus.IN_PROGRESS
    assert deployment.finished_at is None
    assert (deployment.environment, deployment.production) == ("github-pages", False)
    assert deployment.started_at == utc("2022-01-03T01:28:30Z")
    assert deployment.event_time == utc("2022-01-03T01:28:40Z")
    assert deployment.url == "https://github.com/CorsixTH/CorsixTH/runs/4687056418?check_suite_focus=true"


@pytest.mark.parametrize(
    ("state", "status", "terminal"),
    [
        pytest.param("success", DeploymentStatus.SUCCESS, True, id="success"),
        pytest.param("failure", DeploymentStatus.FAILURE, True, id="failure"),
        pytest.param("error", DeploymentStatus.ERROR, True, id="error"),
        pytest.param("in_progress", DeploymentStatus.IN_PROGRESS, False, id="in_progress"),
        pytest.param("queued", DeploymentStatus.IN_PROGRESS, False, id="queued"),
        pytest.param("pending", DeploymentStatus.IN_PROGRESS, False, id="pending"),
        pytest.param("waiting", DeploymentStatus.IN_PROGRESS, False, id="waiting"),
        pytest.param("inactive", DeploymentStatus.IN_PROGRESS, False, id="inactive"),
        pytest.param("some_future_state", DeploymentStatus.IN_PROGRESS, False, id="unknown-is-non-terminal"),
    ],
)
def test_deployment_status_states(state: str, status: DeploymentStatus, terminal: bool) -> None:
    # Only success and in_progress exist as real examples: the success one gets each other state.
    body = fixture_json("github", "deployment_status__success.json")
    body["deployment_status"]["state"] = state
    deployment = single(run(github("deployment_status", body)), Deployment)
    assert deployment.status is status
    assert deployment.finished_at == (utc("2019-05-15T15:20:55Z") if terminal else None)
    assert deployment.deployment_id == "github:145988746"


@pytest.mark.parametrize(
    ("environment", "production"),
    [
        pytest.param("production", True, id="production"),
        pytest.param("prod-eu", True, id="prod-eu"),
        pytest.param("preprod", False, id="preprod"),
        pytest.param("staging", False, id="staging"),
    ],
)
def test_deployment_production_detection(environment: str, production: bool) -> None:
    body = fixture_json("github", "deployment_status__success.json")
    body["deployment"]["environment"] = environment  # the real payload says "production"
    deployment = single(run(github("deployment_status", body)), Deployment)
    assert (deployment.environment, deployment.production) == (environment, production)


@pytest.mark.parametrize(
    ("task", "description", "rollback"),
    [
        pytest.param("deploy", None, False, id="deploy"),
        pytest.param("deploy:rollback", None, True, id="task"),
        pytest.param("deploy", "Rollback to v1.2", True, id="description"),
    ],
)
def test_deployment_rollback_flag(task: str, description: str | None, rollback: bool) -> None:
    body = fixture_json("github", "deployment_status__success.json")
    body["deployment"]["task"], body["deployment"]["description"] = task, description
    assert single(run(github("deployment_status", body)), Deployment).rollback is rollback


def test_deployment_status_redelivery_keeps_ids() -> None:
    raw = fixture_bytes("github", "deployment_status__success.json")
    assert (
        run(github("deployment_status", raw, delivery_id="a"))[0].id
        == run(github("deployment_status", raw, delivery_id="b"))[0].id
    )


# --- workflow_run ----------------------------------------------------------------------------------


def test_workflow_run_completed() -> None:
    run_event = single(
        run(github("workflow_run", fixture_bytes("github", "workflow_run__completed_success.json"))),
        PipelineRunFinished,
    )
    assert run_event.id == stable_id("pipeline_run", "github:289782451/attempts/1")
    assert run_event.service == "octo-org/octo-repo"
    assert run_event.pipeline == ".github/workflows/test.yml"  # `name` is "" in this payload
    assert run_event.run_id == "github:289782451/attempts/1"
    assert run_event.outcome == "success"
    assert run_event.started_at == utc("2020-10-05T16:33:49Z")
    assert run_event.finished_at == run_event.event_time == utc("2020-10-05T16:33:49Z")
    assert run_event.sha == "3484a3fb816e0859fd6e1cea078d76385ff50625"
    assert run_event.url == "https://github.com/octo-org/octo-repo/actions/runs/289782451"


@pytest.mark.parametrize(
    ("conclusion", "outcome"),
    [
        pytest.param("failure", "failure", id="failure"),
        pytest.param("cancelled", "cancelled", id="cancelled"),
        pytest.param("timed_out", "failure", id="timed-out"),
        pytest.param("startup_failure", "failure", id="startup-failure"),
        pytest.param("skipped", "skipped", id="skipped-kept"),
    ],
)
def test_workflow_run_conclusions(conclusion: str, outcome: str) -> None:
    # No real failed workflow_run exists (fixtures README, Gaps): the success one gets each conclusion.
    body = fixture_json("github", "workflow_run__completed_success.json")
    body["workflow_run"]["conclusion"] = conclusion
    assert single(run(github("workflow_run", body)), PipelineRunFinished).outcome == outcome


def test_workflow_run_rerun_is_another_run() -> None:
    body = fixture_json("github", "workflow_run__completed_success.json")
    body["workflow_run"]["run_attempt"] = 2
    rerun = single(run(github("workflow_run", body)), PipelineRunFinished)
    assert rerun.run_id == "github:289782451/attempts/2"
    assert rerun.id != stable_id("pipeline_run", "github:289782451/attempts/1")


# --- issues as incidents ---------------------------------------------------------------------------


def _incident_issue(*, closed: bool, body_text: str | None = None) -> dict[str, Any]:
    # No real issue with an incident label, nor a closed one (fixtures README, Gaps): the real
    # labeled issue gets an "Incident" label and, when asked, is closed.
    body = fixture_json("github", "issues__labeled.json")
    body["issue"]["labels"].append({**body["issue"]["labels"][0], "name": "Incident"})
    if body_text is not None:
        body["issue"]["body"] = body_text
    if closed:
        body["action"] = "closed"
        body["issue"]["state"] = "closed"
        body["issue"]["closed_at"] = "2019-05-15T16:50:18Z"
    return body


def test_open_incident_issue() -> None:
    opened = single(run(github("issues", _incident_issue(closed=False))), IncidentOpened)
    assert opened.id == stable_id("incident_opened", "github-issue:444500041")
    assert opened.incident_id == "github-issue:444500041"
    assert opened.started_at == opened.event_time == utc("2019-05-15T15:20:18Z")
    assert (opened.environment, opened.production, opened.severity) == ("production", True, None)
    assert opened.service == "codertocat/hello-world"
    assert opened.title == "Spelling error in the README file"
    assert opened.url == "https://github.com/Codertocat/Hello-World/issues/1"
    assert opened.cause_sha is None


def test_closed_incident_issue_gives_opened_and_resolved() -> None:
    events = run(github("issues", _incident_issue(closed=True)))
    opened = single(of_kind(events, IncidentOpened), IncidentOpened)
    resolved = single(of_kind(events, IncidentResolved), IncidentResolved)
    assert opened.id == stable_id("incident_opened", "github-issue:444500041")  # same as when opened
    assert resolved.incident_id == opened.incident_id
    assert resolved.started_at == utc("2019-05-15T15:20:18Z")
    assert resolved.resolved_at == resolved.event_time == utc("2019-05-15T16:50:18Z")


def test_reclosing_an_issue_is_a_new_resolution() -> None:
    first = of_kind(run(github("issues", _incident_issue(closed=True))), IncidentResolved)
    body = _incident_issue(closed=True)
    body["issue"]["closed_at"] = "2019-05-16T09:00:00Z"  # reopened, then closed again
    again = of_kind(run(github("issues", body)), IncidentResolved)
    assert first[0].id != again[0].id
    assert again[0].resolved_at == utc("2019-05-16T09:00:00Z")


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        pytest.param(
            "Root cause: 199eddf46df50de8d02e99bf1c5fdb4101338224",
            "199eddf46df50de8d02e99bf1c5fdb4101338224",
            id="full",
        ),
        pytest.param("Outage.\r\nroot cause: ABCDEF1 (bad config)\r\n", "abcdef1", id="short-upper-crlf"),
        pytest.param("We think the root cause: was DNS", None, id="not-a-sha"),
        pytest.param("", None, id="empty"),
    ],
)
def test_root_cause_line_in_issue_body(text: str, cause: str | None) -> None:
    opened = single(run(github("issues", _incident_issue(closed=False, body_text=text))), IncidentOpened)
    assert opened.cause_sha == cause


def test_custom_incident_label() -> None:
    body = fixture_json("github", "issues__labeled.json")  # real: label "bug"
    assert single(run(github("issues", body), MappingRules(incident_label="BUG")), IncidentOpened)
