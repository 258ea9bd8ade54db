"""The OpenAPI 3.1 document of an app, generated from the `ApiRoute`s it serves (`metricsync.web.contract`).

Schemas come from the pydantic models the endpoints answer with (`schemas.api`, `schemas.metrics`), so the
document cannot describe a field the code does not send. `API_VERSION` is the contract's version: bump
it with every change to the document (a test compares the served document with `docs/openapi.json`;
`metricsync openapi > docs/openapi.json` writes it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from starlette.routing import BaseRoute

from metricsync.web.contract import Answer, ApiRoute, Operation

OPENAPI_VERSION = "3.1.0"
# 1.1: every sender's auth as a security scheme, request examples, /metrics; 1.2: scope.history_from, the push
# bodies as schemas, the insight kinds failure_rate_drivers and restore_time_drivers
API_VERSION = "1.2.0"
REF = "#/components/schemas/{model}"

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "apiToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "`Authorization: Bearer <METRICSYNC_API_TOKEN>`; the read API is open when that is unset.",
    },
    "githubSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Hub-Signature-256",
        "description": "`sha256=` + the hex HMAC-SHA256 of the raw body keyed with METRICSYNC_GITHUB_SECRET, "
        "as GitHub sends it (the legacy `X-Hub-Signature` SHA-1 only with METRICSYNC_GITHUB_ALLOW_SHA1).",
    },
    "jenkinsToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "METRICSYNC_JENKINS_TOKEN as a bearer token (or as the basic-auth password, or `?token=`).",
    },
    "jenkinsBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "any user, METRICSYNC_JENKINS_TOKEN as password",
    },
    "jenkinsQueryToken": {
        "type": "apiKey",
        "in": "query",
        "name": "token",
        "description": "METRICSYNC_JENKINS_TOKEN in the query, for Notification Plugin URLs",
    },
    "alertmanagerToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "METRICSYNC_ALERTMANAGER_TOKEN (`http_config.authorization` of the receiver)",
    },
    "alertmanagerBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "any user, METRICSYNC_ALERTMANAGER_TOKEN as password (`http_config.basic_auth`)",
    },
    "gitlabToken": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Gitlab-Token",
        "description": "the webhook's secret token, METRICSYNC_GITLAB_TOKEN, verbatim (GitLab signs nothing; "
        "compared in constant time)",
    },
    "pagerdutySignature": {
        "type": "apiKey",
        "in": "header",
        "name": "X-PagerDuty-Signature",
        "description": "`v1=` + the hex HMAC-SHA256 of the raw body keyed with METRICSYNC_PAGERDUTY_SECRET (the "
        "subscription's signing secret), as PagerDuty V3 sends it; during a secret rotation several "
        "comma-separated (`v1=<hex>,v1=<hex>`): any one matching suffices, other versions are skipped.",
    },
    "opsgenieToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "METRICSYNC_OPSGENIE_TOKEN as a bearer token (a custom `Authorization` header of the "
        "Webhook integration)",
    },
    "opsgenieBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "any user, METRICSYNC_OPSGENIE_TOKEN as password (the integration's basic auth)",
    },
    "cdeventsToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "METRICSYNC_CDEVENTS_TOKEN as a bearer token (or as the basic-auth password, or `?token=`)",
    },
    "cdeventsBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "any user, METRICSYNC_CDEVENTS_TOKEN as password",
    },
    "cdeventsQueryToken": {
        "type": "apiKey",
        "in": "query",
        "name": "token",
        "description": "METRICSYNC_CDEVENTS_TOKEN in the query, for CloudEvents sinks that cannot set headers",
    },
    "pushToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "METRICSYNC_PUSH_TOKEN as a bearer token (or as the basic-auth password)",
    },
    "pushBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "any user, METRICSYNC_PUSH_TOKEN as password",
    },
}

TAGS = [
    {"name": "metrics", "description": "DORA metrics and the facts behind them (docs/metrics.md)"},
    {
        "name": "webhooks",
        "description": "Where GitHub, GitLab, Jenkins, Alertmanager, PagerDuty, Opsgenie and CDEvents sinks send "
        "their webhooks, and the push API",
    },
    {"name": "operations", "description": "Health, readiness, pipeline status, dead letters and /metrics"},
    {"name": "mcp", "description": "The read API as Model Context Protocol tools (streamable HTTP)"},
]

DESCRIPTION = """Streaming DORA metrics from the webhooks GitHub, GitLab, Jenkins, Prometheus Alertmanager,
PagerDuty, Opsgenie and CDEvents sinks send, and from the push API (MetricSync's or Apache DevLake's shape).

The same contract in embedded (`metricsync serve`) and distributed mode. Every refusal is
`{"error": "<code>", "detail": "<sentence>"}`; query parameters are strict (an unknown or repeated one
is a 400 naming it). Lists are paginated (`limit`, opaque `cursor`, `next` URL and `Link` header) and
served as CSV with `format=csv` or `Accept: text/csv`."""


_PATH_PARAM = re.compile(r"{(\w+)(?::\w+)?}")  # Starlette's `{name}` or `{name:convertor}`


def _documented(routes: Iterable[BaseRoute]) -> list[ApiRoute]:
    return [route for route in routes if isinstance(route, ApiRoute)]


def _models(operations: Iterable[Operation]) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    """The models the document refers to: responses as they are serialized, request bodies as they are
    validated (a model is one or the other here, so each keeps its own name)."""
    seen: dict[str, tuple[type[BaseModel], JsonSchemaMode]] = {}
    for operation in operations:
        for answer in operation.responses.values():
            if answer.model is not None:
                seen.setdefault(answer.model.__name__, (answer.model, "serialization"))
        for model in operation.request_models:
            seen.setdefault(model.__name__, (model, "validation"))
    return [seen[name] for name in sorted(seen)]


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter's schema without the `null` branch of an optional field (a query cannot send null)."""
    branches = schema.get("anyOf")
    if isinstance(branches, list):
        rest = [branch for branch in branches if branch != {"type": "null"}]
        if len(rest) == 1:
            merged = {key: value for key, value in schema.items() if key != "anyOf"}
            return {**rest[0], **merged}
    return schema


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(by_alias=True, mode="validation")
    required = set(schema.get("required", []))
    out = []
    for name, prop in schema.get("properties", {}).items():
        prop = _without_null(dict(prop))
        prop.pop("title", None)
        if prop.get("default", 0) is None:  # "absent", not a value a query can carry
            del prop["default"]
        description = prop.pop("description", "")
        examples = prop.pop("examples", None)
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "description": description,
            "schema": prop,
        }
        if examples:
            parameter["example"] = examples[0]
        out.append(parameter)
    return out


def _response(answer: Answer) -> dict[str, Any]:
    body: dict[str, Any] = {"description": answer.description}
    content: dict[str, Any] = {}
    if answer.model is not None:
        content["application/json"] = {"schema": {"$ref": REF.format(model=answer.model.__name__)}}
    if answer.media is not None:
        # a body another specification defines (e.g. MCP's JSON-RPC): any JSON object, or text
        content[answer.media] = {"schema": {"type": "object" if answer.media.endswith("json") else "string"}}
    if answer.csv:
        content["text/csv"] = {"schema": {"type": "string", "description": "a header row, then one row per item"}}
    if content:
        body["content"] = content
    if answer.headers:
        body["headers"] = {
            name: {"description": description, "schema": {"type": "string"}}
            for name, description in answer.headers.items()
        }
    return body


def _operation(route: ApiRoute, method: str) -> dict[str, Any]:
    op = route.operation
    document: dict[str, Any] = {
        "operationId": op.operation_id or f"{method}_{route.path.strip('/').replace('/', '_').replace('-', '_')}",
        "summary": op.summary,
    }
    if op.description:
        document["description"] = op.description
    if op.tags:
        document["tags"] = list(op.tags)
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAM.findall(route.path)
    ]
    parameters += _query_parameters(op.query) if op.query is not None else []
    for header in op.headers:
        parameter: dict[str, Any] = {
            "name": header.name,
            "in": "header",
            "required": header.required,
            "description": header.description,
            "schema": {"type": "string"},
        }
        if header.example is not None:
            parameter["example"] = header.example
        parameters.append(parameter)
    if parameters:
        document["parameters"] = parameters
    if op.request_body is not None:
        body: dict[str, Any] = {"type": "object", "additionalProperties": True}
        if op.request_models:
            body = {"oneOf": [{"$ref": REF.format(model=model.__name__)} for model in op.request_models]}
        media: dict[str, Any] = {"schema": body}
        if op.request_examples:
            media["examples"] = {name: {"value": value} for name, value in op.request_examples.items()}
        content: dict[str, Any] = {"application/json": media}
        for media_type, schema in op.request_media.items():
            content[media_type] = {"schema": dict(schema)}
        document["requestBody"] = {"required": True, "description": op.request_body, "content": content}
    document["responses"] = {str(status): _response(answer) for status, answer in sorted(op.responses.items())}
    if op.security:
        # any one scheme suffices; an `{}` alternative marks the auth as optional (the read API without a token)
        document["security"] = [{} if name == "" else {name: []} for name in op.security]
    return document


def openapi_document(routes: Iterable[BaseRoute], version: str = API_VERSION) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the `ApiRoute`s among `routes` (others are left out)."""
    documented = _documented(routes)
    models = _models(route.operation for route in documented)
    _, definitions = models_json_schema(models, ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for route in sorted(documented, key=lambda r: r.path):
        for method in sorted(route.methods or {"GET"}):
            if method == "HEAD":
                continue
            path = _PATH_PARAM.sub(r"{\1}", route.path)
            paths.setdefault(path, {})[method.lower()] = _operation(route, method.lower())
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "MetricSync",
            "version": version,
            "description": DESCRIPTION,
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "tags": TAGS,
        "paths": paths,
        "components": {"schemas": definitions.get("$defs", {}), "securitySchemes": SECURITY_SCHEMES},
    }
