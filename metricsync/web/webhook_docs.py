"""The operations of the routes ingest builds: every sender's webhook endpoint, the push API and the probes.

Ingest (pure core) builds its routes without knowing of OpenAPI; `WEBHOOK_OPERATIONS` documents them by
path and `documented(routes, WEBHOOK_OPERATIONS)` (metricsync.web.contract) attaches them. Each sender's
auth is the security scheme(s) its verifier checks (`metricsync.web.openapi.SECURITY_SCHEMES`; ingest/auth.py
and the senders' modules in ingest/), the headers it reads are parameters, and its request examples are
real payloads: byte copies of tests/fixtures files in `examples/` (provenance: tests/fixtures/README.md;
tests/unit/runtime/test_webhook_docs.py checks they are still identical).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from metricsync.web.contract import Answer, Header, Operation
from schemas.api import Health, WebhookAck
from schemas.push_api import DeploymentReport, DevLakeDeployment, DevLakeIssue, IncidentReport

EXAMPLES = Path(__file__).parent / "examples"


def example(relative: str) -> Any:
    """A real payload of `examples/` (a tests/fixtures copy), parsed."""
    return json.loads((EXAMPLES / relative).read_bytes())


_REFUSALS = {
    400: Answer(
        "the body is not a JSON object (a CDEvents batch: not an array), or a field the delivery id is taken from "
        "is missing; push API: a field is invalid (`invalid_field` names it)"
    ),
    401: Answer("the signature or token is missing or wrong, or no secret is configured for this sender"),
    413: Answer("the body is larger than METRICSYNC_MAX_BODY_BYTES"),
    415: Answer("the body is not `application/json` (the detail says which sender setting to change)"),
    503: Answer(
        "the delivery could not be stored now; retry after `Retry-After` seconds",
        headers={"Retry-After": "seconds"},
    ),
}
_STORED = Answer("stored (durable before this answer); `status` says whether the metrics use it", WebhookAck)
_BODY = "the sender's JSON payload, unchanged (it is stored verbatim and verified over its raw bytes)"
_SETUP = " The sender's setup: docs/events.md."

# CDEvents over the CloudEvents HTTP binding: binary mode and bare events are application/json (above)
_CLOUDEVENTS_MEDIA: dict[str, dict[str, Any]] = {
    "application/cloudevents+json": {
        "type": "object",
        "description": "structured mode: a CloudEvent whose `data` is the CDEvent",
    },
    "application/cloudevents-batch+json": {
        "type": "array",
        "items": {"type": "object"},
        "minItems": 1,
        "maxItems": 1000,
        "description": "batched mode: structured CloudEvents, stored as one delivery",
    },
}
_CE_HEADERS = tuple(
    Header(f"ce-{name}", f"CloudEvents binary mode: the event's `{name}`", example=value)
    for name, value in (
        ("specversion", "1.0"),
        ("id", "271069a8-fc18-44f1-b38f-9d70a1695819"),
        ("source", "/event/source/123"),
        ("type", "dev.cdevents.service.deployed.0.3.0"),
    )
)

# The push API's bodies: MetricSync's shape (docs/events.md 5.8) and Apache DevLake's incoming-webhook shape,
# as tests/unit/normalizer/test_push_api.py writes them (derived from DevLake's request structs, not captured)
_SHA = "015e3d3b480e417aede5a1293bd61de9b0fd051d"
_PARENT = "9f2c1a7b3d4e5f60718293a4b5c6d7e8f9012345"
_DEPLOYMENTS = {
    "metricsync": {
        "id": "build-42",
        "service": "payments",
        "environment": "production",
        "started_at": "2026-01-05T10:00:00Z",
        "finished_at": "2026-01-05T10:06:00+01:00",
        "sha": _SHA,
        "changes": [
            {"sha": _PARENT, "committed_at": "2026-01-05T07:00:00Z"},
            {"sha": _SHA, "committed_at": "2026-01-05T08:30:00Z"},
        ],
    },
    "devlake": {
        "id": "pipeline-9",
        "startedDate": "2026-01-05T10:00:00+00:00",
        "finishedDate": "2026-01-05T10:20:00+00:00",
        "result": "SUCCESS",
        "deploymentCommits": [{"repoUrl": "https://github.com/acme/payments.git", "commitSha": _SHA}],
    },
}
_INCIDENTS = {
    "metricsync": {
        "id": "INC-7",
        "service": "api",
        "started_at": "2026-01-05T10:00:00Z",
        "resolved_at": "2026-01-05T10:45:00Z",
        "cause_sha": _SHA,
    },
    "devlake": {
        "issueKey": "OPS-1",
        "title": "checkout down",
        "type": "INCIDENT",
        "status": "DONE",
        "createdDate": "2026-01-05T10:00:00Z",
        "resolutionDate": "2026-01-05T11:00:00Z",
    },
}
_PUSH = (
    "MetricSync's shape or Apache DevLake's incoming-webhook shape (told apart by their keys; docs/events.md 5.8). "
    "Idempotent on your id and the state reported: resending changes nothing."
)
_SERVICE = Header("X-MetricSync-Service", "the service of a DevLake issue (DevLake's shape names none)", example="api")


def _webhook(
    summary: str,
    security: tuple[str, ...],
    examples: dict[str, Any],
    description: str = "",
    headers: tuple[Header, ...] = (),
    responses: dict[int, Answer] | None = None,
    media: dict[str, dict[str, Any]] | None = None,
    models: tuple[type[BaseModel], ...] = (),
) -> Operation:
    return Operation(
        summary,
        responses if responses is not None else {202: _STORED, **_REFUSALS},
        description=description + _SETUP,
        headers=headers,
        security=security,
        request_body=_BODY,
        request_examples=examples,
        request_media=media or {},
        request_models=models,
        tags=("webhooks",),
    )


WEBHOOK_OPERATIONS: dict[str, Operation] = {
    "/webhooks/github": _webhook(
        "GitHub webhook (push, deployment_status, workflow_run, ...)",
        ("githubSignature",),
        {"push": example("github/push__single_commit.json")},
        "Set the webhook's Content type to application/json and its secret to METRICSYNC_GITHUB_SECRET.",
        headers=(
            Header("X-GitHub-Event", "the event type", required=True, example="push"),
            Header("X-GitHub-Delivery", "the delivery id (deduplication)", required=True, example="72d3162e"),
        ),
        responses={
            200: Answer("a `ping` event: verified and answered, not stored", WebhookAck),
            202: _STORED,
            **_REFUSALS,
        },
    ),
    "/webhooks/gitlab": _webhook(
        "GitLab webhook (Push, Merge Request, Pipeline, Deployment, Issue Hook)",
        ("gitlabToken",),
        {
            "push": example("gitlab/push_hook.json"),
            "deployment": example("gitlab/deployment_hook__success.json"),
            "incident": example("gitlab/issue_hook__incident_opened.json"),
        },
        "Set the webhook's secret token to METRICSYNC_GITLAB_TOKEN. Delivery id: `Idempotency-Key`, else "
        "`X-Gitlab-Event-UUID`, else a digest of event and body.",
        headers=(
            Header("X-Gitlab-Event", "the event type", required=True, example="Push Hook"),
            Header(
                "X-Gitlab-Event-UUID",
                "one per event (the delivery id when there is no Idempotency-Key)",
                example="13792a34-cac6-4fda-95a8-c58e00a3954e",
            ),
            Header(
                "Idempotency-Key",
                "GitLab 17.4+: kept across retries of one delivery (the delivery id)",
                example="f8a1c3d2-2c4b-4a39-8b1e-0d0c5b6d7e8f",
            ),
        ),
    ),
    "/webhooks/jenkins": _webhook(
        "Jenkins Notification Plugin (JSON format)",
        ("jenkinsToken", "jenkinsBasic", "jenkinsQueryToken"),
        {"completed": example("jenkins/notification__completed__gitter.json")["body"]},
        "Set the endpoint's Format to JSON and put METRICSYNC_JENKINS_TOKEN in its URL.",
    ),
    "/webhooks/alertmanager": _webhook(
        "Prometheus Alertmanager webhook receiver (version 4)",
        ("alertmanagerToken", "alertmanagerBasic"),
        {"firing": example("alertmanager/webhook_v4__firing_two_alerts.json")},
        "Set the receiver's `http_config` authorization (or basic auth) to METRICSYNC_ALERTMANAGER_TOKEN.",
    ),
    "/webhooks/pagerduty": _webhook(
        "PagerDuty webhook (V3): incident.triggered, incident.resolved, ...",
        ("pagerdutySignature",),
        {
            "triggered": example("pagerduty/incident_triggered__v3.json"),
            "resolved": example("pagerduty/incident_resolved__v3.json"),
        },
        "Set METRICSYNC_PAGERDUTY_SECRET to the subscription's signing secret. Delivery id: `event.id`.",
        headers=(Header("X-Webhook-Id", "PagerDuty's id of the webhook (logged with refusals)"),),
    ),
    "/webhooks/opsgenie": _webhook(
        "Opsgenie outgoing webhook (Webhook integration): Create, Close, ...",
        ("opsgenieToken", "opsgenieBasic"),
        {"create": example("opsgenie/alert_create.json"), "close": example("opsgenie/alert_close.json")},
        "Add the header `Authorization: Bearer <METRICSYNC_OPSGENIE_TOKEN>` to the integration (or its basic "
        "auth). Delivery id: `alert.alertId` and `action`.",
    ),
    "/webhooks/cdevents": _webhook(
        "CDEvents over the CloudEvents HTTP binding (binary, structured or batched mode)",
        ("cdeventsToken", "cdeventsBasic", "cdeventsQueryToken"),
        {
            "service.deployed": example("cdevents/service_deployed.json"),
            "incident.detected": example("cdevents/incident_detected.json"),
        },
        "application/json: a CDEvent, with the `ce-*` headers (binary mode) or without (a bare event). "
        "Delivery id: a digest of `context.source` and `context.id`.",
        headers=_CE_HEADERS,
        media=_CLOUDEVENTS_MEDIA,
    ),
    "/api/v1/deployments": _webhook(
        "Push a deployment (MetricSync's or Apache DevLake's shape)",
        ("pushToken", "pushBasic"),
        _DEPLOYMENTS,
        _PUSH,
        models=(DeploymentReport, DevLakeDeployment),
    ),
    "/api/v1/incidents": _webhook(
        "Push an incident (MetricSync's or Apache DevLake's issue shape)",
        ("pushToken", "pushBasic"),
        _INCIDENTS,
        _PUSH + " A DevLake issue needs `X-MetricSync-Service` (400 without it); only `type` INCIDENT counts.",
        headers=(_SERVICE,),
        models=(IncidentReport, DevLakeIssue),
    ),
    "/healthz": Operation(
        "Liveness: 200 while the process serves, with how each sender is verified",
        {200: Answer("serving", Health)},
        tags=("operations",),
    ),
    "/readyz": Operation(
        "Readiness: 200 when webhooks can be stored, else 503 with the reason",
        {200: Answer("ready", Health), 503: Answer("not ready; `reason` says why", Health)},
        tags=("operations",),
    ),
}
