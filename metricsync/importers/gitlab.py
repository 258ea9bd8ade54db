"""`metricsync import gitlab`: deployments, the commits each first shipped, merged merge requests and
incident issues of projects, from GitLab's REST API (v4; gitlab.com or self-managed).

What is read, per project (`--project group/name`, URL-encoded in the paths):
- `GET /projects/:id/deployments?order_by=id&sort=desc` in the environments the pattern matches,
  until one created before `since` (read only as the base of the first compare).
- `GET /projects/:id/repository/compare?from={base}&to={head}` between consecutive deployments of
  an environment: the commits each deployment first shipped. The first deployment known takes
  `GET /projects/:id/repository/commits?ref_name={head}&since={since}`.
- `GET /projects/:id/merge_requests?state=merged&updated_after={since}`.
- `GET /projects/:id/issues?updated_after={since}&issue_type=incident`, and those labelled with the
  incident label (`labels=`): both kinds are incidents for the webhook path too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from re import Pattern
from typing import Any, ClassVar
from urllib.parse import quote

from metricsync.importers.http import ApiClient
from metricsync.importers.progress import Item, Skipped
from metricsync.importers.records import gitlab_record
from normalizer.timeparse import parse_gitlab_time
from schemas.sources import (
    GITLAB_IMPORT_COMPARE,
    GITLAB_IMPORT_DEPLOYMENT,
    GITLAB_IMPORT_ISSUE,
    GITLAB_IMPORT_MERGE_REQUEST,
)

PER_PAGE = 100


@dataclass(frozen=True)
class GitLabImport:
    projects: tuple[str, ...]
    since: datetime
    environment_pattern: Pattern[str]
    incident_label: str


def gitlab_auth(token: str | None) -> dict[str, str]:
    return {"PRIVATE-TOKEN": token} if token else {}


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    return parse_gitlab_time(value)


class GitLabImporter:
    PHASES: ClassVar[tuple[str, ...]] = ("deployments", "merge_requests", "issues")

    def __init__(self, client: ApiClient, job: GitLabImport, now: Callable[[], datetime]) -> None:
        self.client = client
        self.job = job
        self.now = now

    def phase(self, target: str, name: str) -> AsyncIterator[Item]:
        if name == "deployments":
            return self._deployments(target)
        if name == "merge_requests":
            return self._merge_requests(target)
        return self._issues(target)

    def _path(self, project: str) -> str:
        return f"projects/{quote(project, safe='')}"

    def _record(self, project: str, kind: str, ident: str, event_type: str, body: dict[str, Any]) -> Item:
        return gitlab_record(project, kind, ident, event_type, body, self.now())

    async def _deployments(self, project: str) -> AsyncIterator[Item]:
        by_env: dict[str, list[dict[str, Any]]] = {}
        older: dict[str, dict[str, Any]] = {}
        params: dict[str, str | int] = {"order_by": "id", "sort": "desc", "per_page": PER_PAGE}
        async for page in self.client.paginate(f"{self._path(project)}/deployments", params):
            for deployment in page.data:
                env = (deployment.get("environment") or {}).get("name") or ""
                if not self.job.environment_pattern.search(env):
                    yield Skipped("deployment to an environment the pattern does not match")
                    continue
                created = _time(deployment.get("created_at"))
                if created is not None and created < self.job.since:
                    older.setdefault(env, deployment)
                else:
                    by_env.setdefault(env, []).append(deployment)
            if page.data and all((_time(d.get("created_at")) or self.job.since) < self.job.since for d in page.data):
                break
        for env, deployments in sorted(by_env.items()):
            deployments.sort(key=lambda d: d["id"])
            base = older.get(env)
            for deployment in deployments:
                yield self._record(project, "deployment", str(deployment["id"]), GITLAB_IMPORT_DEPLOYMENT,
                                   {"deployment": deployment})
                compare = await self._compare(project, deployment, base)
                if compare is not None:
                    yield compare
                base = deployment

    async def _compare(self, project: str, deployment: dict[str, Any], base: dict[str, Any] | None) -> Item | None:
        head = deployment.get("sha")
        if not isinstance(head, str) or not head:
            return Skipped("deployment without a sha (its changes cannot be known)")
        ref = deployment.get("ref") or ""
        if base is None:
            commits: list[dict[str, Any]] = []
            params: dict[str, str | int] = {"ref_name": head, "since": self.job.since.isoformat(), "per_page": PER_PAGE}
            async for page in self.client.paginate(f"{self._path(project)}/repository/commits", params):
                commits.extend(page.data)
            commits.reverse()  # newest first in the API; a push lists oldest first
            if not commits:
                return None
            body: dict[str, Any] = {"ref": ref, "base": None, "head": head, "commits": commits}
            return self._record(project, "compare", f"root...{head}", GITLAB_IMPORT_COMPARE, body)
        base_sha = base.get("sha")
        if not isinstance(base_sha, str) or base_sha == head:
            return None
        page = await self.client.get(f"{self._path(project)}/repository/compare", {"from": base_sha, "to": head})
        body = {"ref": ref, "base": base_sha, "head": head, "commits": page.data.get("commits") or []}
        return self._record(project, "compare", f"{base_sha}...{head}", GITLAB_IMPORT_COMPARE, body)

    async def _merge_requests(self, project: str) -> AsyncIterator[Item]:
        since = self.job.since.isoformat()
        params: dict[str, str | int] = {"state": "merged", "updated_after": since, "per_page": PER_PAGE}
        async for page in self.client.paginate(f"{self._path(project)}/merge_requests", params):
            for mr in page.data:
                merged = _time(mr.get("merged_at"))
                if merged is None or merged < self.job.since:
                    yield Skipped("merge request merged before the window (or without a merge time)")
                    continue
                yield self._record(project, "merge_request", str(mr["id"]), GITLAB_IMPORT_MERGE_REQUEST,
                                   {"merge_request": mr})

    async def _issues(self, project: str) -> AsyncIterator[Item]:
        seen: set[int] = set()
        for extra in ({"issue_type": "incident"}, {"labels": self.job.incident_label}):
            params: dict[str, str | int] = {"updated_after": self.job.since.isoformat(), "per_page": PER_PAGE, **extra}
            async for page in self.client.paginate(f"{self._path(project)}/issues", params):
                for issue in page.data:
                    if issue["id"] in seen:
                        continue
                    seen.add(issue["id"])
                    ident = f"{issue['id']}@{issue.get('closed_at') or 'open'}"
                    yield self._record(project, "issue", ident, GITLAB_IMPORT_ISSUE, {"issue": issue})
