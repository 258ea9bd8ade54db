"""The Jenkins senders' bodies, read into one `BuildNotice` (one notification about one build).

* Notification Plugin: snake_case `{name, url, build{full_url, number, phase, status, timestamp,
  duration, url, scm{url, branch, commit}, parameters}}`, nulls omitted.
* CloudEvents plugin (binary mode, `ce-type: org.jenkinsci.job.<phase>` header): the same model in
  camelCase (`fullUrl`, `scmState`), nulls included. Queue and node events carry no build.
* CDEvents plugin, documented shape (`type: dev.cdevents.pipelinerun.finished.0.1.0`, build under
  `data`): read as a FINALIZED notice stamped with its `time`. Other CDEvents types carry nothing.

Both plugins' `build.timestamp` is epoch ms whose meaning depends on the phase: enqueue time
(QUEUED), start (STARTED), start + duration (COMPLETED), the time of sending (FINALIZED).
"""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from urllib.parse import unquote, urlsplit

from normalizer.payload import Fields, Parsed, load_object
from schemas.raw import RawDelivery
from schemas.sources import JENKINS_CE_JOB_PREFIX, jenkins_ce_is_run


class Phase(StrEnum):
    QUEUED = "QUEUED"
    STARTED = "STARTED"
    COMPLETED = "COMPLETED"
    FINALIZED = "FINALIZED"
    FINISHED = "FINISHED"  # legacy name of FINALIZED (renamed in 2014)

    @property
    def terminal(self) -> bool:
        return self in (Phase.COMPLETED, Phase.FINALIZED, Phase.FINISHED)


# Jenkins Result.toString(), plus "FAILED" as the CloudEvents README writes it
RESULTS = frozenset({"SUCCESS", "UNSTABLE", "FAILURE", "NOT_BUILT", "ABORTED", "FAILED"})
_CE_JOB_PREFIX = JENKINS_CE_JOB_PREFIX
_CE_PHASES = {
    "started": Phase.STARTED,
    "completed": Phase.COMPLETED,
    "finalized": Phase.FINALIZED,
    "finalzed": Phase.FINALIZED,  # sic, in the plugin's README
    "failed": Phase.FINALIZED,
}
_CDEVENTS_FINISHED = "dev.cdevents.pipelinerun.finished."
_CDEVENTS_OUTCOMES = {"success": "SUCCESS", "failure": "FAILURE", "error": "FAILURE", "cancel": "ABORTED"}


@dataclass(frozen=True, slots=True)
class BuildNotice:
    job_name: str  # full name ("folder/job"), from the job url; the short `name` if the url has none
    job_url: str  # job url path ("job/folder/job/app/"): unique per controller, unlike `name`
    controller: str  # "host[:port]/root/" of the sending Jenkins, "" when unknown
    number: int
    phase: Phase
    result: str | None  # upper-case Jenkins result; None while the build runs
    timestamp: datetime | None
    duration_ms: int | None
    full_url: str | None  # absolute build url; absent when Jenkins' root URL is not configured
    scm_url: str | None
    commit: str | None
    parameters: dict[str, str] = field(default_factory=dict)

    @property
    def build_key(self) -> str:
        """`<host>[:port]<root path><job url>#<number>`: a build, unique across controllers and folders."""
        return f"{self.controller}{self.job_url}#{self.number}"


def read_notice(delivery: RawDelivery, parsed: Parsed = None) -> BuildNotice | None:
    """The build notification a delivery carries; None for events without a build (queue, node,
    other CDEvents types, the Notification Plugin's internal NONE phase)."""
    ce_type = delivery.headers.get("ce-type")
    if ce_type is not None and not ce_type.startswith(_CE_JOB_PREFIX):
        return None  # org.jenkinsci.queue.* / org.jenkinsci.node.*: nothing about a build
    body = load_object(delivery, parsed)
    if ce_type is not None and not jenkins_ce_is_run(ce_type, body.has("build")):
        return None  # an item event (org.jenkinsci.job.created/updated): ingest answered it `ignored`
    if ce_type is None and isinstance(body.raw("type"), str) and isinstance(body.raw("data"), dict):
        return _cdevents(body)
    if ce_type is None and body.has("projectName") and body.has("buildUrl"):
        body.fail(
            None,
            "Outbound WebHook plugin bodies carry no time or commit and are not supported; "
            "use the Notification or CloudEvents plugin",
        )
    return _build_model(body, _CE_PHASES.get(ce_type[len(_CE_JOB_PREFIX) :]) if ce_type else None)


def _build_model(body: Fields, header_phase: Phase | None) -> BuildNotice | None:
    build = body.req_obj("build")
    phase_text = build.opt_str("phase")
    if phase_text is None:
        if header_phase is None:
            build.fail("phase", "is missing")
        phase = header_phase
    elif phase_text.upper() == "NONE":
        return None
    else:
        phase = _phase(build, phase_text)
    scm = build.opt_obj("scm") or build.opt_obj("scmState")
    number = build.req_int("number")
    full_url = build.opt_str("full_url") or build.opt_str("fullUrl")
    controller, job_url = locate_build(body.req_str("url"), full_url, number)
    return BuildNotice(
        job_name=_full_name(job_url, body.req_str("name")),
        job_url=job_url,
        controller=controller,
        number=number,
        phase=phase,
        result=read_result(build, "status"),
        timestamp=build.opt_epoch_ms("timestamp"),
        duration_ms=build.opt_int("duration"),
        full_url=full_url,
        scm_url=scm.opt_str("url") if scm else None,
        commit=scm.opt_str("commit") if scm else None,
        parameters=build.str_map("parameters"),
    )


def _cdevents(body: Fields) -> BuildNotice | None:
    if not body.req_str("type").startswith(_CDEVENTS_FINISHED):
        return None  # queued / started / taskrun: the finished event says all we use
    data = body.req_obj("data")
    build = data.req_obj("build")
    result = read_result(build, "status")
    if result is None:
        outcome = body.req_str("outcome").lower()
        result = _CDEVENTS_OUTCOMES.get(outcome) or body.fail("outcome", f"unknown outcome {outcome!r}")
    scm = build.opt_obj("scmState")
    number = build.req_int("number")
    full_url = build.opt_str("fullUrl")
    controller, job_url = locate_build(data.req_str("url"), full_url, number)
    return BuildNotice(
        job_name=_full_name(job_url, data.req_str("name")),
        job_url=job_url,
        controller=controller,
        number=number,
        phase=Phase.FINALIZED,  # sent after the build: its `time` is a little late, like FINALIZED
        result=result,
        timestamp=body.req_time_strict("time"),
        duration_ms=build.opt_int("duration"),
        full_url=full_url,
        scm_url=scm.opt_str("url") if scm else None,
        commit=scm.opt_str("commit") if scm else None,
        parameters=build.str_map("parameters"),
    )


def _phase(build: Fields, text: str) -> Phase:
    try:
        return Phase(text.upper())
    except ValueError:
        build.fail("phase", f"unknown phase {text!r} (expected QUEUED, STARTED, COMPLETED, FINALIZED)")


def read_result(build: Fields, key: str) -> str | None:
    text = build.opt_str(key)
    if text is None:
        return None
    if text.upper() not in RESULTS:
        build.fail(key, f"unknown build result {text!r} (expected one of {', '.join(sorted(RESULTS))})")
    return text.upper()


def _full_name(job_url: str, name: str) -> str:
    """`job/folder/job/app/` -> `folder/app` (Jenkins' full name); the short name otherwise."""
    parts = [part for part in urlsplit(job_url).path.split("/") if part]
    names = [unquote(parts[i + 1]) for i in range(len(parts) - 1) if parts[i] == "job"]
    return "/".join(names) if names else name


def locate_build(job_url: str, full_url: str | None, number: int) -> tuple[str, str]:
    """(`host[:port]/root/` of the sending Jenkins, job url path below it). The plugins send a
    relative job url and the root comes from `build.full_url` (absent when Jenkins' root URL is not
    configured: then ""); an absolute job url carries both."""
    if "://" in job_url:
        parts = urlsplit(job_url)
        return f"{_host(parts.netloc)}/", parts.path.lstrip("/")
    job_url = job_url.lstrip("/")
    if not full_url:
        return "", job_url
    parts = urlsplit(full_url)
    path = parts.path
    suffix = f"{job_url.rstrip('/')}/{number}/"
    if path.endswith("/" + suffix):
        root = path[: -len(suffix)]
    elif "/job/" in path:
        root = path[: path.index("/job/") + 1]
    else:
        root = "/"
    return f"{_host(parts.netloc)}{root}", job_url


def _host(netloc: str) -> str:
    return netloc.rpartition("@")[2].lower()  # never keep credentials from a URL
