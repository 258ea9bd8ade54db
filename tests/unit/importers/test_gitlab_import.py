"""`metricsync import gitlab` against a local HTTP server. The shared fixtures hold no GitLab API
responses, so the REST objects are built here with the field names of GitLab's published REST API
documentation (Deployments, Repositories compare/commits, Merge requests, Issues; listed as derived
in tests/fixtures/README.md), carrying the values of the real GitLab webhooks in tests/fixtures/gitlab,
so the ids the two paths give can be compared."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from pytest_httpserver import HTTPServer

from metricsync.importers.gitlab import GitLabImport, GitLabImporter, gitlab_auth
from metricsync.importers.http import ApiClient
from metricsync.importers.run import run_import
from metricsync.importers.state import ImportState
from normalizer.mapping import map_delivery
from normalizer.rules import MappingRules
from schemas.events import ChangePushed, Deployment, IncidentOpened, IncidentResolved, PullRequestMerged, UnifiedEvent
from schemas.raw import RawDelivery
from schemas.sources import Source
from tests.unit.importers.test_github_import import MemorySink, Sleeps
from tests.unit.normalizer.factories import fixture_json

NOW = datetime(2026, 12, 1, tzinfo=UTC)
RULES = MappingRules()
Json = dict[str, Any]


def hook(name: str, event: str) -> RawDelivery:
    body = fixture_json("gitlab", name)
    return RawDelivery(delivery_id=f"hook-{name}", source=Source.GITLAB, event_type=event, key="k",
                       received_at=NOW, headers={}, body=orjson.dumps(body))


def rest_deployment(deployment_id: int, sha: str, created: str, finished: str, status: str = "success") -> Json:
    """A `GET /projects/:id/deployments` item (fields of GitLab's documented response)."""
    return {
        "id": deployment_id, "iid": 1, "ref": "main", "sha": sha, "created_at": created, "updated_at": finished,
        "status": status, "environment": {"id": 9, "name": "production"},
        "deployable": {"id": 664, "status": status, "finished_at": finished, "name": "deploy"},
    }


def rest_commit(sha: str, at: str) -> Json:
    return {"id": sha, "short_id": sha[:8], "title": "change", "created_at": at, "committed_date": at}


def serve(server: HTTPServer, project: str, deployments: list[Json], compare: list[Json], first: list[Json],
          mrs: list[Json], issues: list[Json]) -> None:
    base = f"/projects/{project}"  # the server matches the decoded path
    server.expect_request(f"{base}/deployments").respond_with_json(list(reversed(deployments)))
    server.expect_request(f"{base}/repository/compare").respond_with_json({"commits": compare, "diffs": []})
    server.expect_request(f"{base}/repository/commits").respond_with_json(list(reversed(first)))
    server.expect_request(f"{base}/merge_requests").respond_with_json(mrs)
    server.expect_request(f"{base}/issues").respond_with_json(issues)


async def run(server: HTTPServer, project: str, tmp: Path, since: datetime) -> MemorySink:
    client = ApiClient(server.url_for("/"), gitlab_auth("glpat"), sleep=Sleeps())
    job = GitLabImport((project,), since, re.compile("^production$"), "incident")
    sink = MemorySink()
    try:
        await run_import(GitLabImporter(client, job, lambda: NOW), [project], since, sink,
                         ImportState(tmp, "gitlab"), io.StringIO(), lambda: client.stats.requests)
    finally:
        await client.close()
    return sink


def events(sink: MemorySink) -> list[UnifiedEvent]:
    return [e for r in sink.stored.values() for e in map_delivery(r, RULES)]


async def test_deployments_commits_and_their_ids(httpserver: HTTPServer, tmp_path: Path) -> None:
    project = "vedant8600317/test"
    sha = "58793660b22d6ceacbdc23b28a0562bca339702c"  # the real Deployment Hook's commit
    d1 = rest_deployment(988572801, "a" * 40, "2025-05-01T10:00:00.000Z", "2025-05-01T10:05:00.000Z")
    d2 = rest_deployment(988572802, sha, "2025-05-02T11:50:00.000Z", "2025-05-02T11:55:16.000Z")
    first = [rest_commit("9" * 40, "2025-05-01T08:00:00.000Z"), rest_commit("a" * 40, "2025-05-01T09:00:00.000Z")]
    compare = [rest_commit("b" * 40, "2025-05-02T09:00:00.000+02:00"), rest_commit(sha, "2025-05-02T11:00:00.000Z")]
    serve(httpserver, project, [d1, d2], compare, first, [], [])
    sink = await run(httpserver, project, tmp_path, datetime(2025, 4, 1, tzinfo=UTC))

    deployments = {e.deployment_id: e for e in events(sink) if isinstance(e, Deployment)}
    from_hook = next(e for e in map_delivery(hook("deployment_hook__success.json", "Deployment Hook"), RULES)
                     if isinstance(e, Deployment))
    # the hook's deployment id: the engine merges the two reports of it into one deployment
    assert from_hook.deployment_id in deployments
    imported = deployments[from_hook.deployment_id]
    assert (imported.sha, imported.finished_at) == (from_hook.sha, from_hook.finished_at)
    changes = [e for e in events(sink) if isinstance(e, ChangePushed)]
    assert [(c.sha, c.push_before, c.push_after) for c in changes if c.push_after == sha] == [
        ("b" * 40, "a" * 40, sha), (sha, "a" * 40, sha)
    ]
    assert next(c.commit_time for c in changes if c.sha == "b" * 40) == datetime(2025, 5, 2, 7, 0, tzinfo=UTC)
    first_range = [c.sha for c in changes if c.push_after == "a" * 40]
    assert first_range == ["9" * 40, "a" * 40]  # oldest first, from the commits API


async def test_merge_requests_and_incident_issues_have_the_hooks_ids(httpserver: HTTPServer, tmp_path: Path) -> None:
    mr_hook = fixture_json("gitlab", "merge_request_hook__merged.json")["object_attributes"]
    mr = {"id": mr_hook["id"], "iid": mr_hook["iid"], "target_branch": mr_hook["target_branch"],
          "merged_at": "2017-12-10T17:08:07.000Z", "sha": mr_hook["last_commit"]["id"],
          "merge_commit_sha": mr_hook["merge_commit_sha"], "state": "merged"}
    issue_hook = fixture_json("gitlab", "issue_hook__incident_closed.json")["object_attributes"]
    issue = {"id": issue_hook["id"], "iid": issue_hook["iid"], "title": issue_hook["title"],
             "description": issue_hook.get("description"), "state": "closed", "issue_type": "incident",
             "created_at": issue_hook["created_at"], "closed_at": issue_hook["closed_at"], "labels": [],
             "web_url": issue_hook.get("url")}
    serve(httpserver, "gitlab-org/hello-world", [], [], [], [mr], [])
    sink = await run(httpserver, "gitlab-org/hello-world", tmp_path / "a", datetime(2017, 12, 1, tzinfo=UTC))
    merged = [e for e in events(sink) if isinstance(e, PullRequestMerged)]
    from_mr_hook = [e for e in map_delivery(hook("merge_request_hook__merged.json", "Merge Request Hook"), RULES)
                    if isinstance(e, PullRequestMerged)]
    assert [e.id for e in merged] == [e.id for e in from_mr_hook]

    project = "sathwikshetty33-group/mvc"
    httpserver.clear()
    serve(httpserver, project, [], [], [], [], [issue])
    sink = await run(httpserver, project, tmp_path / "b", datetime(2026, 5, 1, tzinfo=UTC))
    imported = sorted(e.id for e in events(sink) if isinstance(e, IncidentOpened | IncidentResolved))
    from_issue_hook = sorted(e.id for e in map_delivery(hook("issue_hook__incident_closed.json", "Issue Hook"), RULES)
                             if isinstance(e, IncidentOpened | IncidentResolved))
    assert imported == from_issue_hook
    assert len(imported) == 2
