"""Jenkins mapper against the real Notification Plugin (Gitter captures), CloudEvents plugin and
CDEvents plugin bodies in tests/fixtures/jenkins. Most real jobs there are not named like deploy
jobs: deployment tests set `jenkins_deploy_pattern` to the job's name (a rule, not a payload change)."""

from typing import Any

import orjson
import pytest

from normalizer.errors import UnmappableDelivery
from normalizer.rules import MappingRules
from schemas.catalog import ServiceCatalog, ServiceEntry
from schemas.events import (
    RANK_FINALIZED,
    RANK_RECEIVED,
    RANK_REPORTED,
    Deployment,
    DeploymentStatus,
    PipelineRunFinished,
)
from schemas.ids import stable_id
from schemas.sources import jenkins_ce_is_run
from tests.unit.normalizer.factories import (
    CE_TYPES,
    RECEIVED_AT,
    fixture_bytes,
    fixture_json,
    jenkins,
    run,
    single,
    utc,
)

DEPLOY_TEST2 = MappingRules(jenkins_deploy_pattern=r"^test2$")
DEPLOY_WEBHOOKS = MappingRules(jenkins_deploy_pattern=r"^webhooks-handler$")
TEST2_ID = "jenkins:3.101.116.80/job/test2/#13"
TEST2_SHA = "218c63f230732c6d561fefd00fd0d2ac4ded1a0c"
WEBHOOKS_ID = "jenkins:beta-internal:8080/job/webhooks-handler/#6"


def ce(name: str, body: dict[str, Any] | None = None) -> Any:
    return jenkins(body if body is not None else fixture_bytes("jenkins", name), ce_type=CE_TYPES[name])


def notification(name: str) -> Any:
    return jenkins(fixture_json("jenkins", name))


# --- what carries nothing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "delivery",
    [
        pytest.param(ce("cloudevents__queue_entered_waiting__readme.json"), id="ce-queue-entered"),
        pytest.param(ce("cloudevents__queue_left__readme.json"), id="ce-queue-left"),
        pytest.param(ce("cloudevents__job_started__readme.json"), id="ce-started-not-deploy"),
        pytest.param(notification("notification__started__gitter.json"), id="notif-started-not-deploy"),
        pytest.param(notification("notification__started_ghprb_parameters__gitter.json"), id="notif-ghprb-started"),
        pytest.param(jenkins(fixture_bytes("jenkins", "cdevents__pipelinerun_queued__docs.json")), id="cde-queued"),
        pytest.param(jenkins(fixture_bytes("jenkins", "cdevents__pipelinerun_started__docs.json")), id="cde-started"),
        pytest.param(jenkins(fixture_bytes("jenkins", "cdevents__taskrun_started__docs.json")), id="cde-task-started"),
        pytest.param(
            jenkins(fixture_bytes("jenkins", "cdevents__taskrun_finished__docs.json")), id="cde-task-finished"
        ),
    ],
)
def test_nothing_for_the_metrics(delivery: Any) -> None:
    assert run(delivery) == []


@pytest.mark.parametrize("ce_type", ["org.jenkinsci.job.created", "org.jenkinsci.job.updated"])
def test_item_events_are_ignored_as_ingest_ignores_them(ce_type: str) -> None:
    """The plugin's item events (a job's configuration, not a run) carry no `build`. No real payload
    of them is in the fixtures: the README's run example without its `build` (edited) stands in."""
    body = fixture_json("jenkins", "cloudevents__job_started__readme.json")
    del body["build"]
    assert not jenkins_ce_is_run(ce_type, has_build=False)
    assert run(jenkins(orjson.dumps(body), ce_type=ce_type)) == []


# --- CloudEvents plugin: one deployment through its phases ------------------------------------------


def test_cloudevents_deployment_phases() -> None:
    started = single(run(ce("cloudevents__job_started__readme.json"), DEPLOY_TEST2), Deployment)
    completed = single(run(ce("cloudevents__job_completed__readme.json"), DEPLOY_TEST2), Deployment)
    finalized = single(run(ce("cloudevents__job_finalized__readme.json"), DEPLOY_TEST2), Deployment)

    assert {d.deployment_id for d in (started, completed, finalized)} == {TEST2_ID}
    assert len({d.id for d in (started, completed, finalized)}) == 3  # one event per phase
    assert {d.sha for d in (started, completed, finalized)} == {TEST2_SHA}
    assert {d.service for d in (started, completed, finalized)} == {"shrutic-git/scmconfig"}  # scmState.url
    assert {d.url for d in (started, completed, finalized)} == {"http://3.101.116.80/job/test2/13/"}

    assert (started.status, started.finished_at) == (DeploymentStatus.IN_PROGRESS, None)
    assert started.started_at == started.event_time == utc("2021-07-18T12:24:13.632Z")  # 1626611053632

    assert completed.status is DeploymentStatus.SUCCESS
    assert completed.finished_at == completed.event_time == utc("2021-07-18T12:24:19.215Z")  # 1626611059215
    assert completed.started_at == utc("2021-07-18T12:24:13.632Z")  # timestamp - duration 5583
    assert completed.time_rank == RANK_REPORTED

    assert finalized.status is DeploymentStatus.SUCCESS
    assert finalized.finished_at == utc("2021-07-18T12:24:19.241Z")  # 1626611059241
    assert finalized.time_rank == RANK_FINALIZED
    assert finalized.started_at is None


def test_cloudevents_failed_event_says_failed() -> None:
    # the README's "FAILED" (the plugin's code sends Jenkins' "FAILURE")
    deployment = single(
        run(ce("cloudevents__job_failed__readme.json"), MappingRules(jenkins_deploy_pattern="^fail$")), Deployment
    )
    assert deployment.status is DeploymentStatus.FAILURE
    assert deployment.deployment_id == "jenkins:3.101.116.80/job/fail/#4"
    assert deployment.finished_at == utc("2021-07-18T14:52:58.412Z")  # 1626619978412
    assert deployment.time_rank == RANK_FINALIZED
    assert deployment.sha is None
    assert deployment.service == "fail"  # no SERVICE parameter, no scm url: the job name


def test_cloudevents_phase_from_header_when_body_has_none() -> None:
    body = fixture_json("jenkins", "cloudevents__job_completed__readme.json")
    del body["build"]["phase"]  # the header org.jenkinsci.job.completed still says which phase
    assert single(run(ce("cloudevents__job_completed__readme.json", body), DEPLOY_TEST2), Deployment).time_rank == (
        RANK_REPORTED
    )


def test_redelivered_phase_keeps_its_id() -> None:
    a = run(ce("cloudevents__job_completed__readme.json"), DEPLOY_TEST2)
    b = run(
        jenkins(
            fixture_bytes("jenkins", "cloudevents__job_completed__readme.json"),
            ce_type="org.jenkinsci.job.completed",
            delivery_id="other",
        ),
        DEPLOY_TEST2,
    )
    assert a[0].id == b[0].id


# --- Notification Plugin (Gitter captures: no timestamps) -------------------------------------------


@pytest.mark.parametrize(
    ("name", "status", "rank"),
    [
        pytest.param("notification__completed__gitter.json", DeploymentStatus.SUCCESS, RANK_RECEIVED, id="completed"),
        pytest.param(
            "notification__finished_success_legacy__gitter.json",
            DeploymentStatus.SUCCESS,
            RANK_RECEIVED,
            id="finished-ok",
        ),
        pytest.param(
            "notification__finished_failure_legacy__gitter.json",
            DeploymentStatus.FAILURE,
            RANK_RECEIVED,
            id="finished-ko",
        ),
        pytest.param("notification__started__gitter.json", DeploymentStatus.IN_PROGRESS, RANK_REPORTED, id="started"),
    ],
)
def test_notification_plugin_deployment_without_timestamps(name: str, status: DeploymentStatus, rank: int) -> None:
    deployment = single(run(notification(name), DEPLOY_WEBHOOKS), Deployment)
    assert deployment.deployment_id == WEBHOOKS_ID
    assert deployment.status is status
    assert deployment.time_rank == rank
    assert deployment.event_time == RECEIVED_AT  # no build.timestamp: the receive time
    assert deployment.finished_at == (RECEIVED_AT if status.terminal else None)
    assert (deployment.environment, deployment.production) == ("unknown", False)
    assert deployment.service == "webhooks-handler"


def test_notification_plugin_with_scm_over_ssh() -> None:
    deployment = single(
        run(
            notification("notification__finalized_scm_artifacts__gitter.json"),
            MappingRules(jenkins_deploy_pattern="myjob"),
        ),
        Deployment,
    )
    assert deployment.service == "org/repo"  # git@github.com:org/repo.git
    assert deployment.sha == "88c34b37a0861c3d19766fb5992c8de7111a62e5"
    assert deployment.deployment_id == "jenkins:builds.local:8080/job/myjob/#93"
    assert deployment.time_rank == RANK_RECEIVED


def test_notification_plugin_with_timestamps_like_current_versions() -> None:
    # The Gitter captures predate build.timestamp/duration (fixtures README, Gaps): the real COMPLETED
    # body gets the fields current plugin versions send, with the CloudEvents example's values.
    body = fixture_json("jenkins", "notification__completed__gitter.json")
    body["build"].update(timestamp=1626611059215, duration=5583, queue_id=25)
    deployment = single(run(jenkins(body), DEPLOY_WEBHOOKS), Deployment)
    assert deployment.finished_at == utc("2021-07-18T12:24:19.215Z")
    assert deployment.started_at == utc("2021-07-18T12:24:13.632Z")
    assert deployment.time_rank == RANK_REPORTED


def test_queued_with_zero_timestamp_uses_receive_time() -> None:
    body = fixture_json("jenkins", "notification__started__gitter.json")
    body["build"].update(phase="QUEUED", timestamp=0)  # 0: no executor yet (JobListener)
    deployment = single(run(jenkins(body), DEPLOY_WEBHOOKS), Deployment)
    assert (deployment.status, deployment.started_at, deployment.event_time) == (
        DeploymentStatus.IN_PROGRESS,
        None,
        RECEIVED_AT,
    )


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        pytest.param("SUCCESS", DeploymentStatus.SUCCESS, id="success"),
        pytest.param("FAILURE", DeploymentStatus.FAILURE, id="failure"),
        pytest.param("UNSTABLE", DeploymentStatus.FAILURE, id="unstable"),
        pytest.param("ABORTED", DeploymentStatus.FAILURE, id="aborted"),
        pytest.param("FAILED", DeploymentStatus.FAILURE, id="failed-readme"),
        pytest.param("NOT_BUILT", None, id="not-built-nothing"),
        pytest.param(None, DeploymentStatus.IN_PROGRESS, id="no-result-yet-manual-notify"),
    ],
)
def test_deployment_status_from_result(status: str | None, expected: DeploymentStatus | None) -> None:
    body = fixture_json("jenkins", "notification__completed__gitter.json")
    body["build"]["status"] = status
    events = run(jenkins(body), DEPLOY_WEBHOOKS)
    if expected is None:
        assert events == []
    else:
        assert single(events, Deployment).status is expected


# --- environment, production, service, rollback ----------------------------------------------------


def _ce_completed(*, name: str = "test2", parameters: dict[str, str] | None = None) -> dict[str, Any]:
    # the real CloudEvents COMPLETED body, with the job renamed and/or build parameters set
    body = fixture_json("jenkins", "cloudevents__job_completed__readme.json")
    body["name"] = name
    body["url"] = f"job/{name}/"
    body["build"]["url"] = f"job/{name}/13/"
    body["build"]["fullUrl"] = f"http://3.101.116.80/job/{name}/13/"
    if parameters is not None:
        body["build"]["parameters"] = parameters
    return body


@pytest.mark.parametrize(
    ("name", "parameters", "environment", "production"),
    [
        pytest.param("deploy-api", {"ENVIRONMENT": "production"}, "production", True, id="ENVIRONMENT-production"),
        pytest.param("deploy-api", {"ENV": "prod-eu"}, "prod-eu", True, id="ENV-prod-eu"),
        pytest.param("deploy-api", {"DEPLOY_ENV": "staging"}, "staging", False, id="DEPLOY_ENV-staging"),
        pytest.param("deploy-api-prod", {"ENV": "staging"}, "staging", False, id="parameter-beats-job-name"),
        pytest.param("deploy-api-prod", {}, "production", True, id="job-name-prod"),
        pytest.param("deploy-api", {"ENVIRONMENT": ""}, "unknown", False, id="empty-parameter-ignored"),
        pytest.param("deploy-api", {}, "unknown", False, id="nothing-says"),
    ],
)
def test_jenkins_environment(name: str, parameters: dict[str, str], environment: str, production: bool) -> None:
    deployment = single(
        run(jenkins(_ce_completed(name=name, parameters=parameters), ce_type="org.jenkinsci.job.completed")), Deployment
    )
    assert (deployment.environment, deployment.production) == (environment, production)


@pytest.mark.parametrize(
    ("parameters", "rules", "service"),
    [
        pytest.param({"SERVICE": "Payments"}, MappingRules(), "payments", id="SERVICE-parameter"),
        pytest.param(
            {"APP": "billing"}, MappingRules(jenkins_service_parameter="APP"), "billing", id="renamed-parameter"
        ),
        pytest.param({}, MappingRules(), "shrutic-git/scmconfig", id="scm-url"),
        pytest.param(
            {},
            MappingRules(catalog=ServiceCatalog(services={"config": ServiceEntry(aliases=["ShrutiC-git/scmConfig"])})),
            "config",
            id="scm-url-through-catalog",
        ),
    ],
)
def test_jenkins_service(parameters: dict[str, str], rules: MappingRules, service: str) -> None:
    body = _ce_completed(name="deploy-api", parameters=parameters)
    assert single(run(jenkins(body, ce_type="org.jenkinsci.job.completed"), rules), Deployment).service == service


def test_rollback_job_is_a_deployment_even_without_deploy_in_its_name() -> None:
    body = _ce_completed(name="rollback-api")
    deployment = single(run(jenkins(body, ce_type="org.jenkinsci.job.completed")), Deployment)
    assert deployment.rollback is True
    assert deployment.deployment_id == "jenkins:3.101.116.80/job/rollback-api/#13"


def test_folder_job_uses_the_full_name_and_url() -> None:
    # a job in a folder: the real body with the folder path Jenkins would send
    body = _ce_completed(name="api")
    body["url"], body["build"]["url"] = "job/deploy/job/api/", "job/deploy/job/api/13/"
    body["build"]["fullUrl"] = "https://ci.example.com/jenkins/job/deploy/job/api/13/"
    deployment = single(run(jenkins(body, ce_type="org.jenkinsci.job.completed")), Deployment)
    assert deployment.deployment_id == "jenkins:ci.example.com/jenkins/job/deploy/job/api/#13"


def test_without_full_url_the_job_url_identifies_the_build() -> None:
    body = fixture_json("jenkins", "notification__completed__gitter.json")
    del body["build"]["full_url"]  # Jenkins root URL not configured
    deployment = single(run(jenkins(body), DEPLOY_WEBHOOKS), Deployment)
    assert deployment.deployment_id == "jenkins:job/webhooks-handler/#6"
    assert deployment.url is None


def test_absolute_job_url_carries_the_controller() -> None:
    body = fixture_json("jenkins", "notification__completed__gitter.json")
    body["url"] = "https://user:pw@CI.example.com/jenkins/job/webhooks-handler/"
    deployment = single(run(jenkins(body), DEPLOY_WEBHOOKS), Deployment)
    assert deployment.deployment_id == "jenkins:ci.example.com/jenkins/job/webhooks-handler/#6"


# --- non-deploy builds: pipeline runs --------------------------------------------------------------


def test_pipeline_run_is_one_per_build_across_phases() -> None:
    completed = single(run(ce("cloudevents__job_completed__readme.json")), PipelineRunFinished)
    finalized = single(run(ce("cloudevents__job_finalized__readme.json")), PipelineRunFinished)
    assert completed.id == finalized.id == stable_id("pipeline_run", TEST2_ID)
    assert completed.run_id == TEST2_ID
    assert (completed.pipeline, completed.outcome, completed.sha) == ("test2", "success", TEST2_SHA)
    assert completed.finished_at == utc("2021-07-18T12:24:19.215Z")
    assert completed.started_at == utc("2021-07-18T12:24:13.632Z")
    assert finalized.finished_at == utc("2021-07-18T12:24:19.241Z")


@pytest.mark.parametrize(
    ("name", "outcome"),
    [
        pytest.param("notification__completed__gitter.json", "success", id="completed"),
        pytest.param("notification__finished_success_legacy__gitter.json", "success", id="legacy-finished-ok"),
        pytest.param("notification__finished_failure_legacy__gitter.json", "failure", id="legacy-finished-ko"),
    ],
)
def test_notification_plugin_pipeline_runs(name: str, outcome: str) -> None:
    pipeline_run = single(run(notification(name)), PipelineRunFinished)
    assert (pipeline_run.outcome, pipeline_run.pipeline, pipeline_run.run_id) == (
        outcome,
        "webhooks-handler",
        WEBHOOKS_ID,
    )
    assert pipeline_run.finished_at == RECEIVED_AT


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        pytest.param("ABORTED", "cancelled", id="aborted"),
        pytest.param("UNSTABLE", "failure", id="unstable"),
        pytest.param("NOT_BUILT", None, id="not-built"),
    ],
)
def test_pipeline_run_outcomes(status: str, outcome: str | None) -> None:
    body = fixture_json("jenkins", "notification__completed__gitter.json")
    body["build"]["status"] = status
    events = run(jenkins(body))
    assert [e.outcome for e in events if isinstance(e, PipelineRunFinished)] == ([outcome] if outcome else [])


def test_cdevents_pipelinerun_finished() -> None:
    pipeline_run = single(
        run(jenkins(fixture_bytes("jenkins", "cdevents__pipelinerun_finished__docs.json"))), PipelineRunFinished
    )
    assert pipeline_run.run_id == "jenkins:localhost:8080/jenkins/job/PipelineCommit/#167"
    assert pipeline_run.finished_at == utc("2023-04-06T20:56:06.898710Z")  # 16:56:06.8987104-04:00
    assert (pipeline_run.outcome, pipeline_run.pipeline, pipeline_run.service) == (
        "success",
        "PipelineCommit",
        "pipelinecommit",
    )


def test_build_number_as_digit_string_maps_like_an_integer() -> None:
    """Ingest accepts a digit-string build number; the mapper must agree, not dead-letter it."""
    as_int = fixture_json("jenkins", "notification__completed__gitter.json")
    as_text = fixture_json("jenkins", "notification__completed__gitter.json")
    as_text["build"]["number"] = str(as_int["build"]["number"])
    assert run(jenkins(as_text)) == run(jenkins(as_int))


# --- unmappable ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        pytest.param(
            lambda b: b["build"].update(number="six"), "build.number", "expected an integer", id="number-word"
        ),
        pytest.param(lambda b: b["build"].update(number=6.5), "build.number", "expected an integer", id="number-float"),
        pytest.param(lambda b: b["build"].update(phase="EXPLODED"), "build.phase", "unknown phase", id="bad-phase"),
        pytest.param(
            lambda b: b["build"].update(status="GREEN"), "build.status", "unknown build result", id="bad-result"
        ),
        pytest.param(lambda b: b.pop("build"), "build", "is missing", id="no-build"),
        pytest.param(lambda b: b.pop("url"), "url", "is missing", id="no-job-url"),
        pytest.param(
            lambda b: b["build"].update(timestamp="yesterday"), "build.timestamp", "integer", id="bad-timestamp"
        ),
        pytest.param(
            lambda b: b["build"].update(parameters={"SERVICE": 3}), "build.parameters.SERVICE", "string", id="param"
        ),
    ],
)
def test_unmappable_notification(change: Any, field: str, reason: str) -> None:
    body = fixture_json("jenkins", "notification__completed__gitter.json")
    change(body)
    with pytest.raises(UnmappableDelivery, match=reason) as caught:
        run(jenkins(body, delivery_id="jenkins-d-9"))
    assert caught.value.field == field
    assert "jenkins delivery 'jenkins-d-9'" in str(caught.value)


def test_outbound_webhook_plugin_is_rejected_with_a_reason() -> None:
    with pytest.raises(UnmappableDelivery, match="Outbound WebHook plugin"):
        run(jenkins(fixture_bytes("jenkins", "outbound_webhook__success__readme.json")))
