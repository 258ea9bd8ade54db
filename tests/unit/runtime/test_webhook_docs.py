"""The webhook operations of the contract against the code that serves them: every sender's documented auth
is exactly what its verifier accepts, its request examples are real payloads (byte copies of tests/fixtures),
and every app that serves /metrics documents it."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from starlette.routing import Route

from ingest.config import IngestConfig
from ingest.errors import Unauthorized
from ingest.sender import Sender
from metricsync.settings import Settings
from metricsync.simulation.signing import github_signature, pagerduty_signature
from metricsync.sources import all_senders
from metricsync.telemetry.exposition import MEDIA_TYPE
from metricsync.web.contract import ApiRoute
from metricsync.web.openapi import SECURITY_SCHEMES, openapi_document
from metricsync.web.webhook_docs import EXAMPLES, WEBHOOK_OPERATIONS
from tests.support.webhooks import CREDENTIALS, FIXTURES

BODY = b'{"a real body": "is not needed to verify auth"}'
SECRETS = CREDENTIALS.env()  # METRICSYNC_<FIELD>: every sender verified


def _config() -> IngestConfig:
    values = {name.removeprefix("METRICSYNC_").lower(): SecretStr(value) for name, value in SECRETS.items()}
    return IngestConfig(**values)


def _secret(scheme: dict[str, Any]) -> str:
    """The secret a scheme carries: the first METRICSYNC_ variable its description names."""
    variable = re.search(r"METRICSYNC_[A-Z0-9_]+", scheme["description"])
    assert variable is not None, scheme
    return SECRETS[variable.group(0)]


def _header_value(name: str, secret: str, body: bytes) -> str:
    """What the sender puts in an apiKey header: an HMAC of the body, or the token itself."""
    match name.lower():
        case "x-hub-signature-256":
            return github_signature(secret, body)
        case "x-pagerduty-signature":
            return pagerduty_signature(secret, body)
        case _:
            return secret


def _way(scheme: dict[str, Any]) -> str:
    if scheme["type"] == "http":
        return str(scheme["scheme"])
    return f"{scheme['in']}:{scheme['name'].lower()}"


def _request(way: str, secret: str, body: bytes) -> tuple[dict[str, str], bytes]:
    """Headers (lower-cased names, as ingest reads them) and query string presenting `secret` one way."""
    if way == "bearer":
        return {"authorization": f"Bearer {secret}"}, b""
    if way == "basic":
        return {"authorization": "Basic " + base64.b64encode(f"someone:{secret}".encode()).decode()}, b""
    place, _, name = way.partition(":")
    if place == "query":
        return {}, f"{name}={secret}".encode()
    return {name: _header_value(name, secret, body)}, b""


def _accepts(sender: Sender, way: str, secret: str) -> bool:
    headers, query = _request(way, secret, BODY)
    try:
        sender.verifier.check_headers(headers, query)
        sender.verifier.check_body(headers, BODY)
    except Unauthorized:
        return False
    return True


ALL_WAYS = {"bearer", "basic", "query:token"} | {
    _way(scheme) for scheme in SECURITY_SCHEMES.values() if scheme["type"] == "apiKey" and scheme["in"] == "header"
}


@pytest.mark.parametrize("sender", all_senders(_config()), ids=lambda sender: sender.path)
def test_documented_auth_is_exactly_what_the_verifier_accepts(sender: Sender) -> None:
    operation = WEBHOOK_OPERATIONS[sender.path]
    assert operation.security, f"{sender.path} documents no auth"
    documented = {_way(SECURITY_SCHEMES[name]) for name in operation.security}
    secret = _secret(SECURITY_SCHEMES[operation.security[0]])
    assert {_secret(SECURITY_SCHEMES[name]) for name in operation.security} == {secret}
    accepted = {way for way in ALL_WAYS if _accepts(sender, way, secret)}
    assert accepted == documented
    for way in documented:  # and the documented ways refuse another secret
        assert not _accepts(sender, way, secret + "-wrong")


def test_examples_are_copies_of_the_fixtures() -> None:
    copies = sorted(path.relative_to(EXAMPLES) for path in EXAMPLES.rglob("*.json"))
    assert copies
    for relative in copies:
        assert (EXAMPLES / relative).read_bytes() == (FIXTURES / relative).read_bytes(), relative


def test_every_webhook_operation_has_examples_and_its_senders_headers() -> None:
    for path, operation in WEBHOOK_OPERATIONS.items():
        if path.startswith(("/webhooks/", "/api/")):
            assert operation.request_examples, path
    headers = {path: {header.name for header in op.headers} for path, op in WEBHOOK_OPERATIONS.items()}
    assert {"X-Gitlab-Event", "X-Gitlab-Event-UUID", "Idempotency-Key"} <= headers["/webhooks/gitlab"]
    assert {"ce-specversion", "ce-id", "ce-source", "ce-type"} <= headers["/webhooks/cdevents"]
    assert "X-MetricSync-Service" in headers["/api/v1/incidents"]


def _settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", spool_dir=tmp_path / "spool", ingest=_config())


def test_every_app_documents_its_metrics(tmp_path: Path) -> None:
    from metricsync.embedded.web_app import create_embedded_app
    from metricsync.services.web_apps import create_api_app, create_ingest_service_app

    settings = _settings(tmp_path)
    for app in (
        create_embedded_app(settings),
        create_api_app(settings),
        create_ingest_service_app(settings, with_api=False),
    ):
        metrics = [route for route in app.routes if isinstance(route, Route) and route.path == "/metrics"]
        assert len(metrics) == 1
        assert isinstance(metrics[0], ApiRoute)
        answer = openapi_document(app.routes)["paths"]["/metrics"]["get"]["responses"]["200"]
        assert list(answer["content"]) == [MEDIA_TYPE]
    assert MEDIA_TYPE.startswith("text/plain; version=")  # what prometheus_client serves, without the charset


def _push_schema(document: dict[str, Any], path: str) -> dict[str, Any]:
    schema: dict[str, Any] = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return {**schema, "components": document["components"]}


@pytest.mark.parametrize(
    ("path", "parse"),
    [("/api/v1/deployments", "parse_deployment"), ("/api/v1/incidents", "parse_incident")],
)
def test_the_push_api_bodies_are_documented_as_the_models_ingest_validates_with(path: str, parse: str) -> None:
    """Each push body's schema is one of MetricSync's or DevLake's shape: every example is valid for exactly
    one of them and parses with ingest's own parser; a body the parser refuses for a field's sake is
    invalid for the schema too."""
    import jsonschema

    from schemas import push_api

    routes = [ApiRoute(p, lambda request: None, op, methods=["POST"]) for p, op in WEBHOOK_OPERATIONS.items()]
    document = openapi_document(routes)
    schema = _push_schema(document, path)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    branches = [
        jsonschema.Draft202012Validator({**branch, "components": document["components"]}) for branch in schema["oneOf"]
    ]
    for name, body in WEBHOOK_OPERATIONS[path].request_examples.items():
        assert validator.is_valid(body), (name, [e.message for e in validator.iter_errors(body)])
        assert sum(branch.is_valid(body) for branch in branches) == 1, name
        getattr(push_api, parse)(body)  # ingest accepts it
    example = WEBHOOK_OPERATIONS[path].request_examples["metricsync"]
    for broken in ({**example, "id": ""}, {**example, "unknown": 1}, {k: v for k, v in example.items() if k != "id"}):
        assert not validator.is_valid(broken), broken
        with pytest.raises(ValueError, match="validation error"):
            getattr(push_api, parse)(broken)
