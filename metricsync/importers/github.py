"""`metricsync import github`: deployments, the commits each first shipped, merged pull requests and
incident issues of repositories, from the GitHub REST API (or GitHub Enterprise Server's).

What is read, per repository (newest first, until `since`):
- `GET /repos/{repo}/deployments` in the environments the pattern matches, plus the newest one
  before `since` (the base of the first compare); for each, `GET .../deployments/{id}/statuses`.
  The finish time is the terminal status' `created_at`, as for webhooks, never `updated_at`.
- `GET /repos/{repo}/compare/{base}...{head}` between consecutive deployments of an environment
  (oldest first): the commits each deployment first shipped. The first deployment known has no
  base: `GET /repos/{repo}/commits?sha={head}&since={since}` gives its commits in the window.
- `GET /repos/{repo}/pulls?state=closed&sort=updated&direction=desc`: the merged ones.
- `GET /repos/{repo}/issues?state=all&since={since}&labels={incident label}`, without pull requests.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from metricsync.importers.http import ApiClient
from metricsync.importers.progress import Item, Skipped
from metricsync.importers.records import (
    github_compare,
    github_deployment_status,
    github_issue,
    github_pull_request,
)
from normalizer.timeparse import parse_time
from schemas.raw import RawDelivery

log = logging.getLogger(__name__)

PER_PAGE = 100
GITHUB_API = "https://api.github.com"


@dataclass(frozen=True)
class GitHubImport:
    repos: tuple[str, ...]
    since: datetime
    environment_pattern: re.Pattern[str]
    incident_label: str


def github_auth(token: str | None) -> dict[str, str]:
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


async def org_repos(client: ApiClient, org: str) -> list[str]:
    repos: list[str] = []
    async for page in client.paginate(f"orgs/{org}/repos", {"per_page": PER_PAGE, "type": "all"}):
        repos.extend(r["full_name"] for r in page.data if not r.get("archived"))
    return repos


def _time(value: object) -> datetime | None:
    return parse_time(value) if isinstance(value, str) else None


class GitHubImporter:
    """Yields the raw records of one repository, phase by phase; `done` names the phases a previous
    run finished (resume), `on_phase` is told when one ends."""

    def __init__(self, client: ApiClient, job: GitHubImport, now: Callable[[], datetime]) -> None:
        self.client = client
        self.job = job
        self.now = now

    PHASES: ClassVar[tuple[str, ...]] = ("deployments", "pulls", "issues")

    def phase(self, repo: str, name: str) -> AsyncIterator[Item]:
        return {"deployments": self._deployments, "pulls": self._pulls, "issues": self._issues}[name](repo)

    async def _deployments(self, repo: str) -> AsyncIterator[Item]:
        by_env: dict[str, list[dict[str, Any]]] = {}
        older: dict[str, dict[str, Any]] = {}  # per environment: the newest deployment before `since`
        async for page in self.client.paginate(f"repos/{repo}/deployments", {"per_page": PER_PAGE}):
            for deployment in page.data:
                env = deployment.get("environment") or ""
                if not self.job.environment_pattern.search(env):
                    yield Skipped("deployment to an environment the pattern does not match")
                    continue
                created = _time(deployment.get("created_at"))
                if created is not None and created < self.job.since:
                    older.setdefault(env, deployment)
                else:
                    by_env.setdefault(env, []).append(deployment)
            if page.data and all((_time(d.get("created_at")) or self.job.since) < self.job.since for d in page.data):
                break  # newest first: every later page is older still
        for env, deployments in sorted(by_env.items()):
            deployments.sort(key=lambda d: (d.get("created_at") or "", d["id"]))
            base = older.get(env)
            for deployment in deployments:
                async for page in self.client.paginate(
                    f"repos/{repo}/deployments/{deployment['id']}/statuses", {"per_page": PER_PAGE}
                ):
                    for status in page.data:
                        yield github_deployment_status(repo, deployment, status, self.now())
                compare = await self._compare(repo, deployment, base)
                if isinstance(compare, Skipped) or compare is not None:
                    yield compare
                base = deployment

    async def _compare(
        self, repo: str, deployment: dict[str, Any], base: dict[str, Any] | None
    ) -> RawDelivery | Skipped | None:
        head = deployment.get("sha")
        if not isinstance(head, str) or not head:
            return Skipped("deployment without a sha (its changes cannot be known)")
        ref = deployment.get("ref") or ""
        commits: list[dict[str, Any]] = []
        if base is None:
            params: dict[str, str | int] = {"sha": head, "since": self.job.since.isoformat(), "per_page": PER_PAGE}
            async for page in self.client.paginate(f"repos/{repo}/commits", params):
                commits.extend(page.data)
            commits.reverse()  # the commits API lists newest first; a push, oldest first
            return github_compare(repo, ref, None, head, commits, self.now()) if commits else None
        base_sha = base.get("sha")
        if not isinstance(base_sha, str) or base_sha == head:
            return None
        async for page in self.client.paginate(f"repos/{repo}/compare/{base_sha}...{head}", {"per_page": PER_PAGE}):
            commits.extend(page.data.get("commits") or [])
        return github_compare(repo, ref, base_sha, head, commits, self.now())

    async def _pulls(self, repo: str) -> AsyncIterator[Item]:
        params: dict[str, str | int] = {"state": "closed", "sort": "updated", "direction": "desc", "per_page": PER_PAGE}
        async for page in self.client.paginate(f"repos/{repo}/pulls", params):
            stop = False
            for pull in page.data:
                updated = _time(pull.get("updated_at"))
                if updated is not None and updated < self.job.since:
                    stop = True
                    break
                merged = _time(pull.get("merged_at"))
                if merged is None:
                    yield Skipped("pull request closed without merging")
                elif merged >= self.job.since:
                    yield github_pull_request(repo, pull, self.now())
            if stop:
                break

    async def _issues(self, repo: str) -> AsyncIterator[Item]:
        params: dict[str, str | int] = {
            "state": "all",
            "since": self.job.since.isoformat(),
            "labels": self.job.incident_label,
            "per_page": PER_PAGE,
        }
        async for page in self.client.paginate(f"repos/{repo}/issues", params):
            for issue in page.data:
                if "pull_request" in issue:
                    yield Skipped("pull request listed as an issue")  # this endpoint lists both
                    continue
                yield github_issue(repo, issue, self.now())
