"""A month of one repository's history, as GitHub webhooks and as a local GitHub REST API serving the
same facts, for the `metricsync import github` tests of both modes.

The history: a linear main branch, 20 production deployments of the head of the moment (every
fourth one failing), 1-3 commits pushed before each, and 3 incident issues (opened and closed) naming
the deployed sha as root cause. Webhook bodies and API objects are built from the same real payloads
(tests/fixtures/github, tests/fixtures/api/github), values changed here."""

from __future__ import annotations

import copy
import os
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from pytest_httpserver import HTTPServer

from tests.support.process import METRICSYNC
from tests.support.webhooks import FIXTURES, Request, _github, github_push, sha_of

REPO = "acme/payments"
START = datetime(2026, 10, 26, 9, 0, tzinfo=UTC)
SINCE = "2026-10-25"
LAST_WEEK = datetime(2026, 11, 16, tzinfo=UTC)
WINDOW = {"from": "2026-10-25T00:00:00Z", "to": "2026-11-25T00:00:00Z", "service": REPO}

Json = dict[str, Any]


def _load(relative: str) -> Any:
    return orjson.loads((FIXTURES / relative).read_bytes())


@dataclass
class History:
    commits: list[tuple[str, datetime]] = field(default_factory=list)  # the main branch, oldest first
    pushes: list[tuple[datetime, Request]] = field(default_factory=list)
    deployments: list[tuple[Json, Json, int]] = field(default_factory=list)  # deployment, status, commits so far
    issues: list[tuple[datetime, str, Json]] = field(default_factory=list)  # time, action, issue

    def webhooks(self, since: datetime | None = None) -> list[Request]:
        timed: list[tuple[datetime, Request]] = list(self.pushes)
        template = _load("github/deployment_status__success.json")
        for deployment, status, _ in self.deployments:
            body = copy.deepcopy(template)
            body.update(deployment=deployment, deployment_status=status)
            body["repository"]["full_name"] = REPO
            timed.append((datetime.fromisoformat(status["created_at"]), _github("deployment_status", body)))
        issue_template = _load("github/issues__labeled.json")
        for at, action, issue in self.issues:
            body = copy.deepcopy(issue_template)
            body.update(action=action, issue=issue)
            body["repository"]["full_name"] = REPO
            timed.append((at, _github("issues", body)))
        return [r for at, r in sorted(timed, key=lambda x: x[0]) if since is None or at >= since]


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_history() -> History:
    h = History()
    deployment_template = _load("github/deployment_status__success.json")
    issue_template = _load("github/issues__labeled.json")["issue"]
    before = sha_of("root")
    for n in range(20):
        day = START + timedelta(days=n * 1.5)
        batch = [(sha_of(f"c{n}-{i}"), day + timedelta(hours=i)) for i in range(1 + n % 3)]
        h.commits.extend(batch)
        h.pushes.append((batch[-1][1] + timedelta(minutes=5), github_push(REPO, before, batch)))
        before = batch[-1][0]
        at = day + timedelta(hours=6)
        deployment = copy.deepcopy(deployment_template["deployment"])
        deployment.update(
            id=1000 + n,
            sha=before,
            ref="main",
            environment="production",
            created_at=_iso(at),
            updated_at=_iso(at + timedelta(days=3)),
        )  # updated later: never the finish time
        status = copy.deepcopy(deployment_template["deployment_status"])
        state = "failure" if n % 4 == 3 else "success"
        finished = at + timedelta(minutes=7)
        status.update(id=5000 + n, state=state, created_at=_iso(finished), updated_at=_iso(finished))
        h.deployments.append((deployment, status, len(h.commits)))
    for k, n in enumerate((2, 9, 17)):
        deployment, status, _ = h.deployments[n]
        opened = datetime.fromisoformat(status["created_at"]) + timedelta(hours=1)
        closed = opened + timedelta(hours=2 + k)
        issue = copy.deepcopy(issue_template)
        issue.update(
            id=7000 + k,
            number=100 + k,
            title=f"outage {k}",
            body=f"root cause: {deployment['sha']}",
            created_at=_iso(opened),
            updated_at=_iso(closed),
        )
        issue["labels"][0]["name"] = "incident"
        open_issue = {**issue, "state": "open", "closed_at": None}
        closed_issue = {**issue, "state": "closed", "closed_at": _iso(closed)}
        h.issues.append((opened, "opened", open_issue))
        h.issues.append((closed, "closed", closed_issue))
    return h


def rest_commit(sha: str, at: datetime, parent: str) -> Json:
    commit: Json = copy.deepcopy(_load("api/github/list_commits.json")[0])
    commit.update(sha=sha, parents=[{"sha": parent}])
    commit["commit"]["author"]["date"] = _iso(at)
    commit["commit"]["committer"]["date"] = _iso(at)
    return commit


def serve_api(server: HTTPServer, h: History) -> None:
    base = f"/repos/{REPO}"
    shas = [sha for sha, _ in h.commits]
    chain = {sha: (shas[i - 1] if i else sha_of("root")) for i, sha in enumerate(shas)}
    times = dict(h.commits)
    server.expect_request(f"{base}/deployments").respond_with_json([d for d, _, _ in reversed(h.deployments)])
    previous: Json | None = None
    for deployment, status, upto in h.deployments:
        server.expect_request(f"{base}/deployments/{deployment['id']}/statuses").respond_with_json([status])
        if previous is None:
            listed = [rest_commit(s, times[s], chain[s]) for s in reversed(shas[:upto])]
            query = {"sha": deployment["sha"], "since": "2026-10-25T00:00:00+00:00", "per_page": "100"}
            server.expect_request(f"{base}/commits", query_string=query).respond_with_json(listed)
        else:
            start = shas.index(previous["sha"]) + 1
            compare = _load("api/github/compare_commits.json")
            compare["commits"] = [rest_commit(s, times[s], chain[s]) for s in shas[start:upto]]
            path = f"{base}/compare/{previous['sha']}...{deployment['sha']}"
            server.expect_request(path).respond_with_json(compare)
        previous = deployment
    server.expect_request(f"{base}/pulls").respond_with_json([])
    latest: dict[int, Json] = {}
    for _, _, issue in h.issues:
        latest[issue["id"]] = issue
    server.expect_request(f"{base}/issues").respond_with_json(list(latest.values()))


def run_import(server: HTTPServer, args: list[str], env: dict[str, str] | None = None) -> str:
    """`metricsync import github` of REPO from `server`, as a real command; its stderr."""
    result = subprocess.run(
        [METRICSYNC, "import", "github", "--repo", REPO, "--since", SINCE, "--api-url", server.url_for("/"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {}), "METRICSYNC_GITHUB_TOKEN": "t0ken"},
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


def figures(base: str) -> tuple[Json, Json, Json]:
    """/api/v1/dora, /deployments and /incidents of REPO over WINDOW."""
    dora = httpx.get(f"{base}/api/v1/dora", params=WINDOW, timeout=10).json()
    deployments = httpx.get(f"{base}/api/v1/deployments", params=WINDOW, timeout=10).json()
    incidents = httpx.get(f"{base}/api/v1/incidents", params=WINDOW, timeout=10).json()
    return dora, deployments, incidents
