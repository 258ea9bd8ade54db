"""Jenkins build notifications -> unified events.

A build of a job whose full name matches `jenkins_deploy_pattern` (or `jenkins_rollback_pattern`,
then flagged rollback) is a deployment: every phase gives a Deployment event of the same
`deployment_id` (QUEUED/STARTED in_progress, COMPLETED/FINALIZED/FINISHED terminal), which the
engine merges. Any other build gives one PipelineRunFinished when it ends (COMPLETED and FINALIZED
give the same event id: the identity is the build, not the phase).
"""

from datetime import datetime, timedelta

from normalizer.envelope import envelope
from normalizer.jenkins_api import read_api_build
from normalizer.jenkins_formats import BuildNotice, Phase, read_notice
from normalizer.payload import Parsed, load_object
from normalizer.rules import MappingRules
from normalizer.scm import repo_from_git_url
from normalizer.timeparse import as_utc
from schemas.events import (
    RANK_FINALIZED,
    RANK_RECEIVED,
    RANK_REPORTED,
    ChangePushed,
    Deployment,
    DeploymentStatus,
    PipelineRunFinished,
    UnifiedEvent,
)
from schemas.ids import stable_id
from schemas.raw import RawDelivery
from schemas.sources import JENKINS_IMPORT_BUILD

_DEPLOY_STATUS = {
    "SUCCESS": DeploymentStatus.SUCCESS,
    "FAILURE": DeploymentStatus.FAILURE,
    "FAILED": DeploymentStatus.FAILURE,
    "UNSTABLE": DeploymentStatus.FAILURE,
    "ABORTED": DeploymentStatus.FAILURE,
}  # NOT_BUILT: the build never ran, nothing was deployed
_RUN_OUTCOME = {
    "SUCCESS": "success",
    "FAILURE": "failure",
    "FAILED": "failure",
    "UNSTABLE": "failure",
    "ABORTED": "cancelled",
}


def map_jenkins(delivery: RawDelivery, rules: MappingRules, parsed: Parsed = None) -> list[UnifiedEvent]:
    if delivery.event_type == JENKINS_IMPORT_BUILD:
        return _imported_build(delivery, rules, parsed)
    notice = read_notice(delivery, parsed)
    if notice is None:
        return []
    return _build_events(notice, delivery, rules)


def _build_events(notice: BuildNotice, delivery: RawDelivery, rules: MappingRules) -> list[UnifiedEvent]:
    rollback = rules.is_rollback(notice.job_name)
    if rollback or rules.is_deploy_job(notice.job_name):
        return _deployment(notice, delivery, rules, rollback=rollback)
    return _pipeline_run(notice, delivery, rules)


def _imported_build(delivery: RawDelivery, rules: MappingRules, parsed: Parsed) -> list[UnifiedEvent]:
    """A build from `metricsync import jenkins`: the events of its COMPLETED notification (same ids),
    and its change sets' commits as a push from the job's previous build's commit to this one's."""
    build = read_api_build(load_object(delivery, parsed))
    if build is None:
        return []
    events = _build_events(build.notice, delivery, rules)
    notice = build.notice
    if not build.commits or notice.commit is None:
        return events
    service = _service(notice, rules)
    repo = repo_from_git_url(notice.scm_url) if notice.scm_url else None
    before = build.previous_commit or ""
    push_id = stable_id("import-jenkins", notice.build_key, before, notice.commit)
    for position, commit in enumerate(build.commits):
        events.append(
            ChangePushed(
                **envelope(
                    delivery, event_id=stable_id("change", push_id, commit.sha), service=service, event_time=commit.time
                ),
                repo=(repo or service).lower(),
                branch=build.branch,
                sha=commit.sha,
                commit_time=commit.time,
                push_id=push_id,
                push_before=before,
                push_after=notice.commit,
                position=position,
            )
        )
    return events


def _deployment(
    notice: BuildNotice, delivery: RawDelivery, rules: MappingRules, *, rollback: bool
) -> list[UnifiedEvent]:
    if notice.result == "NOT_BUILT":
        return []
    deployment_id = f"jenkins:{notice.build_key}"
    # a terminal phase without a result (a Pipeline's manual notifyEndpoints step) is still running
    status = _DEPLOY_STATUS[notice.result] if notice.phase.terminal and notice.result else None
    started_at = notice.timestamp if notice.phase is Phase.STARTED else _start_from_duration(notice)
    finished_at, rank = _finish(notice, delivery) if status else (None, RANK_REPORTED)
    environment, production = _environment(notice, rules)
    return [
        Deployment(
            **envelope(
                delivery,
                event_id=stable_id("deployment", deployment_id, notice.phase.value),
                service=_service(notice, rules),
                event_time=finished_at or notice.timestamp or delivery.received_at,
            ),
            deployment_id=deployment_id,
            environment=environment,
            production=production,
            sha=notice.commit,
            status=status or DeploymentStatus.IN_PROGRESS,
            started_at=started_at,
            finished_at=finished_at,
            time_rank=rank,
            rollback=rollback,
            url=notice.full_url,
        )
    ]


def _pipeline_run(notice: BuildNotice, delivery: RawDelivery, rules: MappingRules) -> list[UnifiedEvent]:
    if not notice.phase.terminal or notice.result is None or notice.result == "NOT_BUILT":
        return []
    run_id = f"jenkins:{notice.build_key}"
    finished_at, _ = _finish(notice, delivery)
    return [
        PipelineRunFinished(
            **envelope(
                delivery,
                event_id=stable_id("pipeline_run", run_id),
                service=_service(notice, rules),
                event_time=finished_at,
            ),
            pipeline=notice.job_name,
            run_id=run_id,
            outcome=_RUN_OUTCOME[notice.result],
            started_at=_start_from_duration(notice),
            finished_at=finished_at,
            sha=notice.commit,
            url=notice.full_url,
        )
    ]


def _finish(notice: BuildNotice, delivery: RawDelivery) -> tuple[datetime, int]:
    """When the build ended, and how exact that is: COMPLETED's timestamp is start + duration;
    FINALIZED's is when post-build steps ended; without a timestamp, the receive time."""
    if notice.timestamp is None:
        return as_utc(delivery.received_at), RANK_RECEIVED
    if notice.phase is Phase.COMPLETED:
        return notice.timestamp, RANK_REPORTED
    return notice.timestamp, RANK_FINALIZED


def _start_from_duration(notice: BuildNotice) -> datetime | None:
    """Only COMPLETED's timestamp is exactly start + duration."""
    if notice.phase is Phase.COMPLETED and notice.timestamp and notice.duration_ms:
        return notice.timestamp - timedelta(milliseconds=notice.duration_ms)
    return None


def _service(notice: BuildNotice, rules: MappingRules) -> str:
    """The SERVICE parameter, else owner/repo of the checked-out repository, else the job's full name."""
    named = notice.parameters.get(rules.jenkins_service_parameter, "").strip()
    repo = repo_from_git_url(notice.scm_url) if notice.scm_url else None
    return rules.service(named or repo or notice.job_name)


def _environment(notice: BuildNotice, rules: MappingRules) -> tuple[str, bool]:
    for parameter in rules.jenkins_environment_parameters:
        value = notice.parameters.get(parameter, "").strip()
        if value:
            return value, rules.is_production(value)
    if rules.is_production_job(notice.job_name):
        return "production", True
    return "unknown", False
