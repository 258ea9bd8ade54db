"""A build as Jenkins' JSON API shows it (`/job/<name>/<number>/api/json`), read into the same
`BuildNotice` a COMPLETED notification gives, so an imported build has the webhook path's ids.

The record `metricsync import jenkins` stores (`schemas.sources.JENKINS_IMPORT_BUILD`) is
`{"job": {"name": <full name>, "url": <absolute job url>}, "build": <the build's api/json>,
"previous_commit": <the commit of the job's build before it, or null>}`.

- The API's `timestamp` is the build's start (epoch ms); start + `duration` is what a COMPLETED
  notification stamps, so the finish is that.
- Parameters: the `parameters` of the `actions` (values of any JSON type, as text).
- The commit: the git plugin's BuildData action (`lastBuiltRevision.SHA1`, `remoteUrls`), else the
  newest commit of the change sets.
- Change sets: pipeline jobs' `changeSets` (a list) and freestyle jobs' `changeSet` (one object);
  their commits (`commitId`, `timestamp` ms) are the changes the build first shipped.
"""

from dataclasses import dataclass
from datetime import datetime

from normalizer.jenkins_formats import BuildNotice, Phase, locate_build, read_result
from normalizer.payload import Fields
from normalizer.timeparse import from_epoch_ms


@dataclass(frozen=True, slots=True)
class ChangeSetCommit:
    sha: str
    time: datetime


@dataclass(frozen=True, slots=True)
class ApiBuild:
    notice: BuildNotice
    commits: list[ChangeSetCommit]  # oldest first
    branch: str
    previous_commit: str | None


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def read_api_build(body: Fields) -> ApiBuild | None:
    """None while the build runs (no result yet): nothing to import."""
    job = body.req_obj("job")
    build = body.req_obj("build")
    if build.opt_bool("building") or build.opt_str("result") is None:
        return None
    number = build.req_int("number")
    full_url = build.opt_str("url")
    controller, job_url = locate_build(job.req_str("url"), full_url, number)
    started_ms = build.opt_int("timestamp")
    duration = build.opt_int("duration")
    parameters: dict[str, str] = {}
    commit: str | None = None
    scm_url: str | None = None
    branch = ""
    for action in build.obj_list("actions", required=False):
        for parameter in action.obj_list("parameters", required=False):
            parameters[parameter.req_str("name")] = _text(parameter.raw("value"))
        revision = action.opt_obj("lastBuiltRevision")
        if revision is not None:
            commit = revision.opt_str("SHA1")
            branches = revision.obj_list("branch", required=False)
            if branches:
                branch = (branches[0].opt_str("name") or "").removeprefix("refs/remotes/origin/")
            urls = action.raw("remoteUrls")
            if isinstance(urls, list) and urls and isinstance(urls[0], str):
                scm_url = urls[0]
    commits: list[ChangeSetCommit] = []
    change_sets = build.obj_list("changeSets", required=False)
    single = build.opt_obj("changeSet")
    for change_set in [*change_sets, *([single] if single else [])]:
        for item in change_set.obj_list("items", required=False):
            sha = item.opt_str("commitId") or item.opt_str("id")
            when = item.opt_epoch_ms("timestamp")
            if sha and when:
                commits.append(ChangeSetCommit(sha, when))
    commits.sort(key=lambda c: c.time)
    if commit is None and commits:
        commit = commits[-1].sha
    notice = BuildNotice(
        job_name=job.req_str("name"),
        job_url=job_url,
        controller=controller,
        number=number,
        phase=Phase.COMPLETED,
        result=read_result(build, "result"),
        timestamp=from_epoch_ms(started_ms + (duration or 0)) if started_ms else None,
        duration_ms=duration,
        full_url=full_url,
        scm_url=scm_url,
        commit=commit,
        parameters=parameters,
    )
    return ApiBuild(notice, commits, branch, body.opt_str("previous_commit"))
