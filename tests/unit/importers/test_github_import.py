"""`metricsync import github` against a local HTTP server replaying GitHub's documented API responses
(tests/fixtures/github-api) and the REST objects embedded in real webhooks (tests/fixtures/github).

Values are changed in the test code only where a case needs it (a page split, a status code), with a
comment saying so; the files are never edited."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from metricsync.importers.github import GitHubImport, GitHubImporter, github_auth
from metricsync.importers.http import ApiClient, ETagCache, ImportFailed, RetryPolicy, TokenRefused
from metricsync.importers.progress import ImportSummary
from metricsync.importers.run import run_import
from metricsync.importers.state import ImportState
from normalizer.mapping import map_delivery
from normalizer.rules import MappingRules
from schemas.events import ChangePushed, Deployment, UnifiedEvent
from schemas.raw import RawDelivery
from tests.unit.normalizer.factories import fixture_json, github

REPO = "Codertocat/Hello-World"
SINCE = datetime(2019, 1, 1, tzinfo=UTC)
RULES = MappingRules()
NOW = datetime(2026, 12, 1, tzinfo=UTC)

Json = dict[str, Any]


def api(name: str) -> Any:
    return fixture_json("api/github", name)


class MemorySink:
    """Records what the importer stores; `fail_after` raises after that many submits (an interruption)."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.stored: dict[str, RawDelivery] = {}
        self.fail_after = fail_after
        self.submits = 0

    async def submit(self, delivery: RawDelivery, payload: dict[str, Any] | None = None) -> bool:
        if self.fail_after is not None and self.submits >= self.fail_after:
            raise KeyboardInterrupt("interrupted by the test")
        self.submits += 1
        new = delivery.delivery_id not in self.stored
        self.stored[delivery.delivery_id] = delivery
        return new

    async def check_ready(self) -> str | None:
        return None


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def webhook() -> Json:
    return fixture_json("github", "deployment_status__success.json")


@pytest.fixture
def older_deployment() -> Json:
    """The deployment of the API's list example (2012): before SINCE, the base of the first compare."""
    deployment: Json = api("list_deployments.json")[0]
    return deployment


def serve_repo(server: HTTPServer, webhook: Json, older: Json) -> None:
    """The repository as the API shows it: the webhook's deployment on page 1, the 2012 one on page 2."""
    base = f"/repos/{REPO}"
    page2 = server.url_for(f"{base}/deployments") + "?per_page=100&page=2"
    server.expect_request(f"{base}/deployments", query_string={"per_page": "100"}).respond_with_json(
        [webhook["deployment"]], headers={"Link": f'<{page2}>; rel="next", <{page2}>; rel="last"'}
    )
    server.expect_request(f"{base}/deployments", query_string={"per_page": "100", "page": "2"}).respond_with_json(
        [older]
    )
    deployment_id = webhook["deployment"]["id"]
    server.expect_request(f"{base}/deployments/{deployment_id}/statuses").respond_with_json(
        [webhook["deployment_status"]]
    )
    compare = f"{base}/compare/{older['sha']}...{webhook['deployment']['sha']}"
    server.expect_request(compare).respond_with_json(api("compare_commits.json"))
    server.expect_request(f"{base}/pulls").respond_with_json([])
    issue = fixture_json("github", "issues__labeled.json")["issue"]
    server.expect_request(f"{base}/issues").respond_with_json([issue, *api("list_issues.json")])


def client_for(server: HTTPServer, sleeps: Sleeps, etags: ETagCache | None = None) -> ApiClient:
    return ApiClient(
        server.url_for("/"),
        github_auth("t0ken"),
        etags=etags,
        sleep=sleeps,
        policy=RetryPolicy(retries=2, backoff_seconds=0.5),
    )


def importer(client: ApiClient, label: str = "incident") -> GitHubImporter:
    job = GitHubImport(repos=(REPO,), since=SINCE, environment_pattern=re.compile(r"(?i)^prod"), incident_label=label)
    return GitHubImporter(client, job, lambda: NOW)


async def import_into(sink: MemorySink, client: ApiClient, tmp: Any, label: str = "incident") -> ImportSummary:
    state = ImportState(tmp, "github")
    try:
        out = io.StringIO()
        return await run_import(importer(client, label), [REPO], SINCE, sink, state, out, lambda: client.stats.requests)
    finally:
        await client.close()


def events_of(records: Iterator[RawDelivery] | list[RawDelivery]) -> list[UnifiedEvent]:
    return [event for record in records for event in map_delivery(record, RULES)]


async def test_a_deployment_imported_has_the_event_ids_of_its_webhook(
    httpserver: HTTPServer, webhook: Json, older_deployment: Json, tmp_path: Any
) -> None:
    serve_repo(httpserver, webhook, older_deployment)
    sink = MemorySink()
    summary = await import_into(sink, client_for(httpserver, Sleeps()), tmp_path)

    imported = [e for e in events_of(list(sink.stored.values())) if isinstance(e, Deployment)]
    from_webhook = [e for e in map_delivery(github("deployment_status", webhook), RULES) if isinstance(e, Deployment)]
    assert [e.id for e in imported] == [e.id for e in from_webhook]
    assert imported[0].finished_at == from_webhook[0].finished_at == datetime(2019, 5, 15, 15, 20, 55, tzinfo=UTC)
    assert summary.records["deployment statuses"] == 1
    # the 2012 deployment is only the compare's base: not imported itself
    assert not any(f"/deployments/{older_deployment['id']}/" in req.path for req, _ in httpserver.log)


async def test_the_commits_a_deployment_shipped_come_from_the_compare_api_as_a_push(
    httpserver: HTTPServer, webhook: Json, older_deployment: Json, tmp_path: Any
) -> None:
    serve_repo(httpserver, webhook, older_deployment)
    sink = MemorySink()
    summary = await import_into(sink, client_for(httpserver, Sleeps()), tmp_path)

    changes = [e for e in events_of(list(sink.stored.values())) if isinstance(e, ChangePushed)]
    compare = api("compare_commits.json")
    assert [c.sha for c in changes] == [c["sha"] for c in compare["commits"]]
    assert {(c.push_before, c.push_after) for c in changes} == {(older_deployment["sha"], webhook["deployment"]["sha"])}
    assert changes[0].commit_time == datetime.fromisoformat(compare["commits"][0]["commit"]["author"]["date"])
    assert changes[0].service == "codertocat/hello-world"
    assert summary.commits == len(compare["commits"])


async def test_incident_issues_are_imported_and_pull_requests_in_the_issue_list_skipped(
    httpserver: HTTPServer, webhook: Json, older_deployment: Json, tmp_path: Any
) -> None:
    serve_repo(httpserver, webhook, older_deployment)
    sink = MemorySink()
    summary = await import_into(sink, client_for(httpserver, Sleeps()), tmp_path)
    assert summary.records["incident issues"] == 1
    assert summary.skipped["pull request listed as an issue"] == 1


async def test_importing_twice_stores_nothing_new_and_asks_with_etags(
    httpserver: HTTPServer, webhook: Json, older_deployment: Json, tmp_path: Any
) -> None:
    etag = '"v1"'

    def statuses(request: Request) -> Response:
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304)
        return Response(
            orjson.dumps([webhook["deployment_status"]]), headers={"ETag": etag}, content_type="application/json"
        )

    deployment_id = webhook["deployment"]["id"]
    httpserver.expect_request(f"/repos/{REPO}/deployments/{deployment_id}/statuses").respond_with_handler(statuses)
    serve_repo(httpserver, webhook, older_deployment)
    sink = MemorySink()
    first = await import_into(sink, client_for(httpserver, Sleeps(), ETagCache(tmp_path / "etags")), tmp_path / "a")
    second_client = client_for(httpserver, Sleeps(), ETagCache(tmp_path / "etags"))
    second = await import_into(sink, second_client, tmp_path / "b")
    assert first.new > 0
    assert second.new == 0
    assert second.duplicate == first.new
    assert second_client.stats.not_modified == 1


async def test_a_rate_limit_waits_until_its_reset_then_goes_on(
    httpserver: HTTPServer, webhook: Json, older_deployment: Json, tmp_path: Any
) -> None:
    reset = int(time.time()) + 30
    deployment_id = webhook["deployment"]["id"]
    # GitHub's primary rate limit: 403 with X-RateLimit-Remaining 0 and the reset as epoch seconds
    httpserver.expect_oneshot_request(f"/repos/{REPO}/deployments/{deployment_id}/statuses").respond_with_json(
        {"message": "API rate limit exceeded for user ID 1."},
        status=403,
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset), "X-RateLimit-Limit": "5000"},
    )
    serve_repo(httpserver, webhook, older_deployment)
    sleeps = Sleeps()
    sink = MemorySink()
    summary = await import_into(sink, client_for(httpserver, sleeps), tmp_path)
    assert summary.records["deployment statuses"] == 1
    assert len(sleeps.waits) == 1
    assert 29 <= sleeps.waits[0] <= 32  # until the reset, plus a second


async def test_a_secondary_rate_limit_honours_retry_after(
    httpserver: HTTPServer, webhook: Json, older_deployment: Json, tmp_path: Any
) -> None:
    httpserver.expect_oneshot_request(f"/repos/{REPO}/pulls").respond_with_json(
        {"message": "You have exceeded a secondary rate limit."}, status=403, headers={"Retry-After": "7"}
    )
    serve_repo(httpserver, webhook, older_deployment)
    sleeps = Sleeps()
    await import_into(MemorySink(), client_for(httpserver, sleeps), tmp_path)
    assert sleeps.waits == [7.0]


async def test_a_502_is_retried_with_backoff(
    httpserver: HTTPServer, webhook: Json, older_deployment: Json, tmp_path: Any
) -> None:
    httpserver.expect_oneshot_request(f"/repos/{REPO}/issues").respond_with_data("Bad Gateway", status=502)
    serve_repo(httpserver, webhook, older_deployment)
    sleeps = Sleeps()
    summary = await import_into(MemorySink(), client_for(httpserver, sleeps), tmp_path)
    assert summary.records["incident issues"] == 1
    assert len(sleeps.waits) == 1
    assert 0.5 <= sleeps.waits[0] <= 0.75


async def test_an_api_that_keeps_failing_stops_the_import_with_the_url(httpserver: HTTPServer, tmp_path: Any) -> None:
    httpserver.expect_request(f"/repos/{REPO}/deployments").respond_with_data("Bad Gateway", status=502)
    with pytest.raises(ImportFailed, match=r"deployments.*HTTP 502, still after 2 retries"):
        await import_into(MemorySink(), client_for(httpserver, Sleeps()), tmp_path)


async def test_a_refused_token_is_a_clear_error_and_not_retried(httpserver: HTTPServer, tmp_path: Any) -> None:
    httpserver.expect_request(f"/repos/{REPO}/deployments").respond_with_json(
        {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}, status=401
    )
    client = client_for(httpserver, Sleeps())
    with pytest.raises(TokenRefused, match=r"401 \(Bad credentials\): check the token"):
        await import_into(MemorySink(), client, tmp_path)
    assert client.stats.requests == 1


async def test_an_interrupted_import_resumes_after_the_phases_it_finished(
    httpserver: HTTPServer, webhook: Json, older_deployment: Json, tmp_path: Any
) -> None:
    serve_repo(httpserver, webhook, older_deployment)
    sink = MemorySink(fail_after=2)  # deployments phase: status + compare stored; the issue is not
    with pytest.raises(KeyboardInterrupt):
        await import_into(sink, client_for(httpserver, Sleeps()), tmp_path)
    assert ImportState(tmp_path, "github").done(REPO, SINCE) == {"deployments", "pulls"}
    sink.fail_after = None
    httpserver.clear_log()
    summary = await import_into(sink, client_for(httpserver, Sleeps()), tmp_path)
    assert summary.records == {"incident issues": 1}  # only the phase left
    assert not any("/deployments" in str(req.path) for req, _ in httpserver.log)
    assert len(sink.stored) == 3
