"""`metricsync import jenkins`: the finished builds of jobs, from Jenkins' JSON API.

Per job: `GET /job/<name>/api/json?tree=name,fullName,url,builds[number]` (the newest builds Jenkins
keeps in the job's list), then newest first `GET /job/<name>/<number>/api/json?tree=...` with only
the fields the mapping reads (never whole-job dumps), until a build started before `since`: that
one is read only for its commit, the base of the first build's change range. Builds still running
are skipped. The records are mapped like the webhooks: jobs matching the deploy or rollback
patterns are deployments, others pipeline runs, and parameters, `SERVICE`/`ENVIRONMENT` included,
are read the same way.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import quote

from metricsync.importers.http import ApiClient
from metricsync.importers.progress import Item, Skipped
from metricsync.importers.records import jenkins_build
from normalizer.timeparse import from_epoch_ms

log = logging.getLogger(__name__)

JOB_TREE = "name,fullName,url,builds[number]"
BUILD_TREE = (
    "number,url,result,building,timestamp,duration,"
    "actions[parameters[name,value],lastBuiltRevision[SHA1,branch[name]],remoteUrls],"
    "changeSets[items[commitId,timestamp]],changeSet[items[commitId,timestamp]]"
)


@dataclass(frozen=True)
class JenkinsImport:
    jobs: tuple[str, ...]
    since: datetime


def job_path(name: str) -> str:
    """`folder/app` -> `job/folder/job/app` (Jenkins' URL of a job in folders)."""
    return "/".join(f"job/{quote(part, safe='')}" for part in name.strip("/").split("/"))


def basic_auth(user: str, token: str) -> str:
    """Jenkins' API token goes as the password of HTTP basic auth."""
    return "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()


def _commit(build: dict[str, Any]) -> str | None:
    for action in build.get("actions") or []:
        revision = (action or {}).get("lastBuiltRevision") if isinstance(action, dict) else None
        if isinstance(revision, dict) and isinstance(revision.get("SHA1"), str):
            return str(revision["SHA1"])
    newest: tuple[int, str] | None = None
    sets = [*(build.get("changeSets") or []), *([build["changeSet"]] if build.get("changeSet") else [])]
    for change_set in sets:
        for item in change_set.get("items") or []:
            sha, millis = item.get("commitId"), item.get("timestamp")
            if isinstance(sha, str) and isinstance(millis, int) and (newest is None or millis >= newest[0]):
                newest = (millis, sha)
    return newest[1] if newest else None


class JenkinsImporter:
    PHASES: ClassVar[tuple[str, ...]] = ("builds",)

    def __init__(self, client: ApiClient, job: JenkinsImport, now: Callable[[], datetime]) -> None:
        self.client = client
        self.job = job
        self.now = now

    def phase(self, target: str, name: str) -> AsyncIterator[Item]:
        return self._builds(target)

    async def _builds(self, name: str) -> AsyncIterator[Item]:
        path = job_path(name)
        job = (await self.client.get(f"{path}/api/json", {"tree": JOB_TREE})).data
        job_info = {"name": job.get("fullName") or name, "url": job.get("url") or self.client.url(path + "/")}
        in_window: list[dict[str, Any]] = []
        base_commit: str | None = None
        for entry in job.get("builds") or []:  # newest first
            build = (await self.client.get(f"{path}/{entry['number']}/api/json", {"tree": BUILD_TREE})).data
            started = from_epoch_ms(build["timestamp"]) if isinstance(build.get("timestamp"), int) else None
            if started is not None and started < self.job.since:
                base_commit = _commit(build)
                break
            in_window.append(build)
        previous = base_commit
        for build in reversed(in_window):  # oldest first: each build's range starts at the one before
            if build.get("building") or build.get("result") is None:
                yield Skipped("build still running")
                continue
            yield jenkins_build(job_info, build, previous, self.now())
            previous = _commit(build) or previous
