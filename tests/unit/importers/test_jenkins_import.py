"""`metricsync import jenkins` against a local HTTP server replaying the Jenkins JSON API responses of
tests/fixtures/api/jenkins (mock-test payloads of the jenkins-rest client, shaped like real
`api/json` output; see the README). Values are changed in the test code where a case needs it."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from metricsync.importers.http import ApiClient, RetryPolicy
from metricsync.importers.jenkins import BUILD_TREE, JOB_TREE, JenkinsImport, JenkinsImporter, job_path
from metricsync.importers.run import run_import
from metricsync.importers.state import ImportState
from normalizer.mapping import map_delivery
from normalizer.rules import MappingRules
from schemas.events import ChangePushed, Deployment, PipelineRunFinished, UnifiedEvent
from tests.unit.importers.test_github_import import MemorySink, Sleeps
from tests.unit.normalizer.factories import fixture_json, jenkins

SINCE = datetime(2016, 4, 1, tzinfo=UTC)
NOW = datetime(2026, 12, 1, tzinfo=UTC)
DEPLOY_RULES = MappingRules(jenkins_deploy_pattern="(?i)handler")

Json = dict[str, Any]


def api(name: str) -> Json:
    data: Json = fixture_json("api/jenkins", name)
    return data


def as_notified_build(number: int, started_ms: int, commit: str | None = None) -> Json:
    """The fixture build, moved (in the test) to the job and controller of the real COMPLETED
    notification tests/fixtures/jenkins/notification__completed__gitter.json."""
    build = api("build_api_json__parameters_git_changesets.json")
    build["number"] = number
    build["url"] = f"http://beta-internal:8080/job/webhooks-handler/{number}/"
    build["timestamp"] = started_ms
    if commit is not None:
        build["changeSets"][0]["items"][0]["commitId"] = commit
        build["changeSets"][0]["items"][0]["timestamp"] = started_ms - 60_000
    return build


def serve_job(server: HTTPServer, builds: list[Json]) -> None:
    job = api("job_api_json__parameterized_with_builds.json")
    job["name"] = "webhooks-handler"  # the notification's job (changed in the test)
    job["url"] = "http://beta-internal:8080/job/webhooks-handler/"
    job["builds"] = [{"number": b["number"], "url": b["url"]} for b in builds]
    server.expect_request("/job/webhooks-handler/api/json", query_string={"tree": JOB_TREE}).respond_with_json(job)
    for build in builds:
        server.expect_request(
            f"/job/webhooks-handler/{build['number']}/api/json", query_string={"tree": BUILD_TREE}
        ).respond_with_json(build)


async def import_job(server: HTTPServer, tmp: Path) -> MemorySink:
    client = ApiClient(server.url_for("/"), {}, sleep=Sleeps(), policy=RetryPolicy(retries=1))
    sink = MemorySink()
    try:
        job = JenkinsImport(jobs=("webhooks-handler",), since=SINCE)
        await run_import(
            JenkinsImporter(client, job, lambda: NOW),
            ["webhooks-handler"],
            SINCE,
            sink,
            ImportState(tmp, "jenkins"),
            io.StringIO(),
            lambda: client.stats.requests,
        )
    finally:
        await client.close()
    return sink


def events(sink: MemorySink, rules: MappingRules) -> list[UnifiedEvent]:
    return [e for record in sink.stored.values() for e in map_delivery(record, rules)]


def test_job_paths_follow_jenkins_folders() -> None:
    assert job_path("webhooks-handler") == "job/webhooks-handler"
    assert job_path("team a/deploy") == "job/team%20a/job/deploy"


@pytest.mark.parametrize(
    ("rules", "kind"),
    [
        pytest.param(MappingRules(), PipelineRunFinished, id="pipeline-run"),
        pytest.param(DEPLOY_RULES, Deployment, id="deployment"),
    ],
)
async def test_an_imported_build_has_the_ids_of_its_completed_notification(
    httpserver: HTTPServer, tmp_path: Path, rules: MappingRules, kind: type[UnifiedEvent]
) -> None:
    serve_job(httpserver, [as_notified_build(6, 1461091892486)])
    sink = await import_job(httpserver, tmp_path)
    imported = [e for e in events(sink, rules) if isinstance(e, kind)]
    notified = fixture_json("jenkins", "notification__completed__gitter.json")  # the request body
    from_webhook = [e for e in map_delivery(jenkins(notified), rules) if isinstance(e, kind)]
    assert [e.id for e in imported] == [e.id for e in from_webhook]


async def test_finish_is_start_plus_duration_and_parameters_are_read(httpserver: HTTPServer, tmp_path: Path) -> None:
    build = as_notified_build(6, 1461091892486)
    serve_job(httpserver, [build])
    sink = await import_job(httpserver, tmp_path)
    deployment = next(e for e in events(sink, DEPLOY_RULES) if isinstance(e, Deployment))
    # timestamp 1461091892486 ms (2016-04-19T18:51:32.486Z) + duration 60750 ms
    assert deployment.finished_at == datetime(2016, 4, 19, 18, 52, 33, 236000, tzinfo=UTC)
    assert deployment.started_at == datetime(2016, 4, 19, 18, 51, 32, 486000, tzinfo=UTC)
    assert deployment.sha == "d27afa0805201322d846d7defc29b82c88d9b5ce"  # newest change-set commit


async def test_change_sets_are_the_commits_between_consecutive_builds(httpserver: HTTPServer, tmp_path: Path) -> None:
    day = 86_400_000
    older = as_notified_build(5, 1461091892486 - 30 * day, commit="a" * 40)  # before SINCE: the base only
    first = as_notified_build(6, 1461091892486, commit="b" * 40)
    second = as_notified_build(7, 1461091892486 + day, commit="c" * 40)
    serve_job(httpserver, [second, first, older])  # newest first, as Jenkins lists them
    sink = await import_job(httpserver, tmp_path)
    changes = sorted((e for e in events(sink, MappingRules()) if isinstance(e, ChangePushed)), key=lambda e: e.sha)
    assert [(c.sha, c.push_before, c.push_after) for c in changes] == [
        ("b" * 40, "a" * 40, "b" * 40),
        ("c" * 40, "b" * 40, "c" * 40),
    ]
    assert len(sink.stored) == 2  # the build before SINCE is not imported
    assert changes[0].commit_time == datetime(2016, 4, 19, 18, 50, 32, 486000, tzinfo=UTC)


async def test_a_running_build_is_skipped(httpserver: HTTPServer, tmp_path: Path) -> None:
    running = as_notified_build(6, 1461091892486)
    running["building"] = True
    running["result"] = None
    serve_job(httpserver, [running])
    sink = await import_job(httpserver, tmp_path)
    assert sink.stored == {}
