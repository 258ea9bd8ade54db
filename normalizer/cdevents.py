"""CDEvents (spec 0.x, e.g. v0.5.1) -> unified events; every CDEvent of a delivery (a batch has several).

    service.deployed     -> Deployment (success; finished at context.timestamp)
    service.rolledback   -> Deployment (success, rollback)
    incident.detected    -> IncidentOpened      } one incident per subject (source + id):
    incident.reported    -> IncidentOpened      } detected and reported of one incident are one
    incident.resolved    -> IncidentResolved    }
    change.merged        -> PullRequestMerged (the spec gives no commit, branch or number)
    pipelinerun.finished -> PipelineRunFinished
    other types          -> nothing (stored and ignored, never dead-lettered)

Each mapped event is checked against the spec's JSON schema where we read it: `REQUIRED` lists the
required properties per type (a unit test keeps it equal to the schemas' `required` lists), and a
missing or mistyped one dead-letters the delivery naming the field. The service of a service event
is its subject id (the spec's subject is the service); of an incident, `content.service.id`. The
deployed commit is not in the spec: a string `customData.sha` is read when present (MetricSync's
convention; without it the deployment has no sha and no lead time).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import orjson

from normalizer.envelope import envelope
from normalizer.incidents import IncidentFacts, incident_events
from normalizer.payload import Fields, Parsed, load_object
from normalizer.rules import MappingRules
from schemas.cdevents import cdevents_in
from schemas.events import Deployment, DeploymentStatus, PipelineRunFinished, PullRequestMerged, UnifiedEvent
from schemas.ids import stable_id
from schemas.raw import RawDelivery
from schemas.sources import cdevents_kind

UNKNOWN_SERVICE = "unknown"
CONTEXT_REQUIRED = ("specversion", "id", "source", "type", "timestamp")
# required properties of subject.content, and of its objects, per type (from the v0.5.1 schemas)
REQUIRED: dict[str, tuple[str, ...]] = {
    "service.deployed": ("environment", "environment.id", "artifactId"),
    "service.rolledback": ("environment", "environment.id", "artifactId"),
    "incident.detected": ("environment", "environment.id"),
    "incident.reported": ("environment", "environment.id", "ticketURI"),
    "incident.resolved": ("environment", "environment.id"),
    "change.merged": (),
    "pipelinerun.finished": (),
}
_OUTCOMES = {"success": "success", "failure": "failure", "error": "error", "cancel": "cancelled"}

_Handler = Callable[["_CDEvent", RawDelivery, MappingRules], list[UnifiedEvent]]


@dataclass(frozen=True, slots=True)
class _CDEvent:
    context: Fields
    subject: Fields
    content: Fields
    custom_data: object


def map_cdevents(delivery: RawDelivery, rules: MappingRules, parsed: Parsed = None) -> list[UnifiedEvent]:
    payload = _payload(delivery, parsed)
    events: list[UnifiedEvent] = []
    items = cdevents_in(payload, delivery.headers)
    for index, item in enumerate(items):
        path = f"[{index}]" if isinstance(payload, list) else ""
        if not isinstance(item, dict):
            Fields({}, path, delivery).fail(None, "is not a CDEvent object")
        cdevent = Fields(item, path, delivery)
        context = cdevent.req_obj("context")
        kind = cdevents_kind(context.req_str("type"))
        if kind is None:
            continue
        for name in CONTEXT_REQUIRED:
            context.req_str(name)
        subject = cdevent.req_obj("subject")
        subject.req_str("id")
        content = subject.req_obj("content")
        for name in REQUIRED[kind]:
            parent, _, leaf = name.rpartition(".")
            if parent:
                content.req_obj(parent).req_str(leaf)
            elif not content.has(leaf):
                content.fail(leaf, "is missing")
        parts = _CDEvent(context, subject, content, cdevent.raw("customData"))
        events.extend(_HANDLERS[kind](parts, delivery, rules))
    return events


def _payload(delivery: RawDelivery, parsed: Parsed) -> object:
    if parsed is not None:
        return parsed
    if delivery.body.lstrip()[:1] == b"[":
        try:
            return orjson.loads(delivery.body)
        except orjson.JSONDecodeError:
            pass  # load_object names the problem
    return load_object(delivery).data


def _time(context: Fields) -> datetime:
    return context.req_time_strict("timestamp")


def _event_key(context: Fields) -> str:
    return stable_id(context.req_str("source"), context.req_str("id"))


def _sha(cdevent_custom: object) -> str | None:
    if isinstance(cdevent_custom, dict):
        sha = cdevent_custom.get("sha")
        if isinstance(sha, str) and sha.strip():
            return sha.strip().lower()
    return None


def _deployment(rollback: bool) -> _Handler:
    def handle(event: _CDEvent, delivery: RawDelivery, rules: MappingRules) -> list[UnifiedEvent]:
        context, subject, content = event.context, event.subject, event.content
        deployment_id = f"cdevents:{_event_key(context)}"
        at = _time(context)
        environment = content.req_obj("environment").req_str("id")
        return [
            Deployment(
                **envelope(
                    delivery,
                    event_id=stable_id("deployment", deployment_id),
                    service=rules.service(subject.req_str("id")),
                    event_time=at,
                ),
                deployment_id=deployment_id,
                environment=environment,
                production=rules.is_production(environment),
                sha=_sha(event.custom_data),
                status=DeploymentStatus.SUCCESS,
                started_at=None,
                finished_at=at,
                rollback=rollback,
            )
        ]

    return handle


def _incident(resolved: bool) -> _Handler:
    def handle(event: _CDEvent, delivery: RawDelivery, rules: MappingRules) -> list[UnifiedEvent]:
        context, subject, content = event.context, event.subject, event.content
        at = _time(context)
        environment = content.req_obj("environment").req_str("id")
        service = content.opt_obj("service")
        source = subject.opt_str("source") or context.req_str("source")
        facts = IncidentFacts(
            incident_id=f"cdevents:{source}#{subject.req_str('id')}",
            environment=environment,
            production=rules.is_production(environment),
            severity=None,
            started_at=at,  # a resolve alone: the engine keeps the earliest start reported
            cause_deployment_id=None,
            cause_sha=None,
            title=content.opt_str("description"),
            url=content.opt_str("ticketURI"),
        )
        name = service.req_str("id") if service else UNKNOWN_SERVICE
        events = incident_events(
            delivery, service=rules.service(name), facts=facts, resolved_at=at if resolved else None
        )
        # a resolve's opened event would claim the resolve time as the start: only the resolution counts
        return events[1:] if resolved else events

    return handle


def _change_merged(event: _CDEvent, delivery: RawDelivery, rules: MappingRules) -> list[UnifiedEvent]:
    context, subject, content = event.context, event.subject, event.content
    at = _time(context)
    repository = content.opt_obj("repository")
    repo = repository.req_str("id") if repository else subject.opt_str("source") or context.req_str("source")
    change = subject.req_str("id")
    return [
        PullRequestMerged(
            **envelope(
                delivery,
                event_id=stable_id("pr_merged", "cdevents", subject.opt_str("source") or "", change),
                service=rules.service(repo),
                event_time=at,
            ),
            repo=repo.lower(),
            number=int(change) if change.isascii() and change.isdigit() else 0,
            base_branch="",
            head_sha=None,
            merge_sha=None,
            merged_at=at,
        )
    ]


def _pipelinerun_finished(event: _CDEvent, delivery: RawDelivery, rules: MappingRules) -> list[UnifiedEvent]:
    context, subject, content = event.context, event.subject, event.content
    at = _time(context)
    source = subject.opt_str("source") or context.req_str("source")
    run_id = f"cdevents:{source}#{subject.req_str('id')}"
    pipeline = content.opt_str("pipelineName") or source
    outcome = (content.opt_str("outcome") or "").lower()
    return [
        PipelineRunFinished(
            **envelope(
                delivery, event_id=stable_id("pipeline_run", run_id), service=rules.service(pipeline), event_time=at
            ),
            pipeline=pipeline,
            run_id=run_id,
            outcome=_OUTCOMES.get(outcome, outcome or "unknown"),
            started_at=None,
            finished_at=at,
            url=content.opt_str("uri"),
        )
    ]


_HANDLERS: dict[str, _Handler] = {
    "service.deployed": _deployment(rollback=False),
    "service.rolledback": _deployment(rollback=True),
    "incident.detected": _incident(resolved=False),
    "incident.reported": _incident(resolved=False),
    "incident.resolved": _incident(resolved=True),
    "change.merged": _change_merged,
    "pipelinerun.finished": _pipelinerun_finished,
}
