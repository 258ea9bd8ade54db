"""What a delivery is: its deduplication id, event type and ordering key, per source.

Pure functions of the request headers and the parsed body. Anything needed for identity that is
missing or of the wrong type is a 400 naming the fields; everything else in the body is left for
the normalizer and never validated here.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ingest.errors import BadRequest
from schemas.ids import body_digest, stable_id
from schemas.sources import GITHUB_MAPPED_EVENTS

MAX_HEADER_VALUE = 200  # delivery ids and event types are short; longer values are not from a real sender

GITHUB_PING = "ping"
JENKINS_NOTIFICATION = "notification"
ALERT_GROUP = "alert-group"

CE_JOB_PREFIX = "org.jenkinsci.job."
CE_QUEUE_PREFIX = "org.jenkinsci.queue."
# CloudEvents types of a build run; they must carry `build` (item events created/updated do not).
CE_RUN_TYPES = frozenset(f"{CE_JOB_PREFIX}{phase}" for phase in ("started", "completed", "finalized", "failed"))


@dataclass(frozen=True, slots=True)
class Identity:
    delivery_id: str
    event_type: str
    key: str
    mapped: bool  # an event type the normalizer uses (answered "accepted"), else stored and "ignored"


def header(headers: Mapping[str, str], name: str, fix: str) -> str:
    """A required identity header, stripped; 400 when missing, blank or implausibly long."""
    value = headers.get(name.lower())
    if value is None or not value.strip():
        raise BadRequest("missing_header", f"The {name} header is missing; {fix}.")
    value = value.strip()
    if len(value) > MAX_HEADER_VALUE:
        raise BadRequest("bad_header", f"The {name} header is longer than {MAX_HEADER_VALUE} characters; {fix}.")
    return value


def optional_header(headers: Mapping[str, str], name: str, fix: str) -> str | None:
    """An optional identity header, stripped; None when absent or blank, 400 when implausibly long."""
    value = headers.get(name.lower())
    if value is None or not value.strip():
        return None
    return header(headers, name, fix)


# --- GitHub ---------------------------------------------------------------------------------------

_GITHUB_FIX = "send GitHub's delivery headers unchanged"


def github_event(headers: Mapping[str, str]) -> str:
    return header(headers, "X-GitHub-Event", _GITHUB_FIX)


def github_key(payload: Mapping[str, Any]) -> str:
    """`repository.full_name`, else `organization.login` (lower-cased: GitHub names are case-insensitive),
    else "github"."""
    repository = payload.get("repository")
    if isinstance(repository, dict):
        full_name = repository.get("full_name")
        if isinstance(full_name, str) and full_name:
            return full_name.lower()
    organization = payload.get("organization")
    if isinstance(organization, dict):
        login = organization.get("login")
        if isinstance(login, str) and login:
            return login.lower()
    return "github"


def github_identity(headers: Mapping[str, str], event: str, payload: Mapping[str, Any]) -> Identity:
    """`X-GitHub-Delivery` is the id: unique per event, kept by redeliveries, and shared by a repo
    hook and an org hook that both receive the event, so the second copy is a duplicate."""
    delivery_id = header(headers, "X-GitHub-Delivery", _GITHUB_FIX)
    return Identity(delivery_id, event, github_key(payload), event in GITHUB_MAPPED_EVENTS)


# --- Jenkins --------------------------------------------------------------------------------------

_JENKINS_FIX = "send the Jenkins Notification Plugin's or CloudEvents plugin's JSON unchanged"


def _host(url: object) -> str:
    """host[:port] of an absolute URL, lower-cased, without user info; "" when there is none."""
    if not isinstance(url, str) or "://" not in url:
        return ""
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return ""
    return netloc.rpartition("@")[2].lower()


def _job_url(url: str, full_url: object) -> str:
    """The job's URL path prefixed with its Jenkins host: `name` repeats across folders, `url` does
    not, and the host tells controllers apart."""
    url = url.strip()
    if "://" in url:
        host = _host(url)
        path = url.partition("://")[2].partition("/")[2]
    else:
        host = _host(full_url)
        path = url.lstrip("/")
    return f"{host}/{path}" if host else path


def _integer(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def _build_identity(payload: Mapping[str, Any]) -> tuple[str, str]:
    """(delivery id, job url) of a build phase: job url + build number + phase. Notification Plugin
    bodies are snake_case (`build.full_url`), CloudEvents bodies camelCase (`build.fullUrl`); the
    same build phase reported by either plugin gets the same id."""
    problems: list[str] = []
    url = payload.get("url")
    if not isinstance(url, str) or not url.strip():
        problems.append("url (the job's URL, a string)")
    build = payload.get("build")
    number: int | None = None
    phase: object = None
    full_url: object = None
    if isinstance(build, dict):
        number = _integer(build.get("number"))
        if number is None:
            problems.append("build.number (an integer)")
        phase = build.get("phase")
        if not isinstance(phase, str) or not phase.strip():
            problems.append("build.phase (a string)")
        full_url = build.get("full_url")
        if not isinstance(full_url, str):
            full_url = build.get("fullUrl")
    else:
        problems.append("build (an object with number and phase)")
    if problems or not isinstance(url, str) or not isinstance(phase, str):
        raise BadRequest(
            "missing_fields",
            f"The Jenkins build event cannot be identified: {', '.join(problems)} missing or of "
            f"the wrong type; {_JENKINS_FIX}.",
        )
    job = _job_url(url, full_url)
    return stable_id("jenkins", job, number, phase.strip().upper()), job


def jenkins_identity(headers: Mapping[str, str], payload: Mapping[str, Any], body: bytes) -> Identity:
    """Jenkins sends no delivery id, so it is derived.

    * Notification Plugin (no `ce-type` header): event type "notification", id from job url +
      build number + phase.
    * CloudEvents plugin (binary mode, `ce-type` header; `ce-id` is random per send and useless
      for dedup): build events as above, event type = `ce-type`; a failed build's `...job.failed`
      event repeats its `...job.finalized` one (same phase) and is a duplicate of it. Queue events:
      host of `ciUrl` + `ce-source` + `jenkinsQueueId` + `ce-type`. Other events (node online/offline,
      job created/updated) carry nothing stable: `ce-source` + `ce-type` + body digest. Queue and
      other events are stored and answered "ignored".
    """
    if headers.get("ce-type") is None:
        delivery_id, job = _build_identity(payload)
        return Identity(delivery_id, JENKINS_NOTIFICATION, job, True)
    ce_type = header(headers, "ce-type", _JENKINS_FIX)
    if payload.get("build") is not None or ce_type in CE_RUN_TYPES:
        delivery_id, job = _build_identity(payload)
        return Identity(delivery_id, ce_type, job, True)
    ce_source = header(headers, "ce-source", _JENKINS_FIX)
    if ce_type.startswith(CE_QUEUE_PREFIX):
        queue_id = _integer(payload.get("jenkinsQueueId"))
        if queue_id is None:
            raise BadRequest(
                "missing_fields",
                "The Jenkins queue event cannot be identified: jenkinsQueueId (an integer) missing or of the "
                f"wrong type; {_JENKINS_FIX}.",
            )
        host = _host(payload.get("ciUrl"))
        key = f"{host}/{ce_source}" if host else ce_source
        return Identity(stable_id("jenkins", key, queue_id, ce_type), ce_type, key, False)
    return Identity(stable_id("jenkins", ce_source, ce_type, body_digest(body)), ce_type, ce_source, False)


# --- Alertmanager ---------------------------------------------------------------------------------


def alertmanager_identity(payload: Mapping[str, Any], body: bytes) -> Identity:
    """Id = SHA-256 of the body: an HA pair sends byte-identical duplicates on purpose, and a
    repeat at repeat_interval is a no-op. Key = `groupKey`, else `receiver` (legacy senders lack
    groupKey). Only `alerts` is checked (it must be a list); the rest is parsed leniently later."""
    if not isinstance(payload.get("alerts"), list):
        raise BadRequest(
            "missing_fields",
            "The Alertmanager notification has no alerts list; send Alertmanager's webhook format "
            "(version 4) unchanged, without a custom payload template.",
        )
    key = "alertmanager"
    for field in ("groupKey", "receiver"):
        value = payload.get(field)
        if isinstance(value, str) and value:
            key = value
            break
    return Identity(body_digest(body), ALERT_GROUP, key, True)
