"""The published contract, fuzzed: Schemathesis against a real `metricsync serve` process, from the
OpenAPI document the process serves, read and webhook endpoints with their auth.

Every security scheme is configured (CONFIG: the tokens of tests/support/webhooks.CREDENTIALS, which the
server verifies with); GitHub's and PagerDuty's HMAC signatures are computed per request by
tests/support/fuzz_hooks.py (PagerDuty's as during a secret rotation: a retired signature, then the valid
one). The document's request examples are real payloads, so the examples phase stores a delivery of every
sender (the test prints which webhook 2xx the fuzzing reached).

Checks: no 5xx, every response conforms to its schema (status code, content type, headers, body), auth
is enforced, schema-violating requests are refused. Bounded: METRICSYNC_FUZZ_EXAMPLES cases per
operation and phase (default 25; 20-40 s on 2 cores). The number of generated cases is printed.

Then every status code the document lists must have been answered: from the fuzzing (read off its HAR
report) or from directed requests with real payloads (tests/fixtures): each sender's 202, 400, 413 and 415,
a rotated PagerDuty signature, a CDEvents batch, and every request example of the document, each of which
must be stored (202). One status is not reachable on a healthy server and is tested where it can be
produced: 503 from /readyz and every webhook (a sink that is starting or unavailable:
tests/unit/ingest/test_health.py, test_hostile.py and test_new_sources.py).

`positive_data_acceptance` is left out: rules between parameters (`service` or `team`, not both;
`from` before `to`) and the senders' payload shapes are not expressible in the schema, so schema-valid
requests are refused with a 4xx by design.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import orjson
import pytest

from metricsync.simulation.signing import pagerduty_signature
from schemas.sources import Source
from tests.support.embedded import Embedded
from tests.support.webhooks import (
    ALERTMANAGER_TOKEN,
    CDEVENTS_TOKEN,
    FIXTURES,
    GITHUB_SECRET,
    GITLAB_TOKEN,
    JENKINS_TOKEN,
    OPSGENIE_TOKEN,
    PAGERDUTY_SECRET,
    PUSH_TOKEN,
    Request,
    signed_github,
    signed_request,
)

pytestmark = pytest.mark.e2e

API_TOKEN = "fuzz-api-token"
MAX_BODY = 64 * 1024
SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
REPO = Path(__file__).resolve().parents[2]

CONFIG = f"""
[auth.openapi.apiToken]
bearer = "{API_TOKEN}"
[auth.openapi.githubSignature]
api_key = "sign-me"
[auth.openapi.jenkinsToken]
bearer = "{JENKINS_TOKEN}"
[auth.openapi.jenkinsBasic]
username = "jenkins"
password = "{JENKINS_TOKEN}"
[auth.openapi.jenkinsQueryToken]
api_key = "{JENKINS_TOKEN}"
[auth.openapi.alertmanagerToken]
bearer = "{ALERTMANAGER_TOKEN}"
[auth.openapi.alertmanagerBasic]
username = "alertmanager"
password = "{ALERTMANAGER_TOKEN}"
[auth.openapi.gitlabToken]
api_key = "{GITLAB_TOKEN}"
[auth.openapi.pagerdutySignature]
api_key = "sign-me"
[auth.openapi.opsgenieToken]
bearer = "{OPSGENIE_TOKEN}"
[auth.openapi.opsgenieBasic]
username = "opsgenie"
password = "{OPSGENIE_TOKEN}"
[auth.openapi.cdeventsToken]
bearer = "{CDEVENTS_TOKEN}"
[auth.openapi.cdeventsBasic]
username = "tekton"
password = "{CDEVENTS_TOKEN}"
[auth.openapi.cdeventsQueryToken]
api_key = "{CDEVENTS_TOKEN}"
[auth.openapi.pushToken]
bearer = "{PUSH_TOKEN}"
[auth.openapi.pushBasic]
username = "ci"
password = "{PUSH_TOKEN}"

# a schema-violating body larger than METRICSYNC_MAX_BODY_BYTES (e.g. more items than maxItems) is refused
# with 413 before it is read: a rejection like the default ones
[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
"""

# An event stream stays open while the client listens: not fuzzed (a request would wait for its end);
# its scope parameters are the read API's, and tests/unit/runtime/test_dashboard_* and tests/browser test it.
# /mcp's bodies are JSON-RPC messages the Model Context Protocol defines, not modelled in the document
# (GET opens a stream too); tests/unit/runtime/test_lead_time_api.py, tests/e2e/test_mcp_process.py and
# tests/integration/test_distributed_mcp.py test it with the protocol's client.
NOT_FUZZED = {"/api/v1/stream", "/mcp"}

# (method, path, status): not reachable on a healthy server; see the module docstring for where tested
WEBHOOK_PATHS = (
    "/webhooks/github",
    "/webhooks/jenkins",
    "/webhooks/alertmanager",
    "/webhooks/gitlab",
    "/webhooks/pagerduty",
    "/webhooks/opsgenie",
    "/webhooks/cdevents",
    "/api/v1/deployments",
    "/api/v1/incidents",
)
UNREACHABLE = {("POST", path, 503) for path in WEBHOOK_PATHS} | {("GET", "/readyz", 503)}


def _json(relative: str) -> bytes:
    return (FIXTURES / relative).read_bytes()


# What each sender sends beside its body; GitLab's event header names the example's kind (documented examples)
SENDERS = {
    "/webhooks/github": Source.GITHUB,
    "/webhooks/jenkins": Source.JENKINS,
    "/webhooks/alertmanager": Source.ALERTMANAGER,
    "/webhooks/gitlab": Source.GITLAB,
    "/webhooks/pagerduty": Source.PAGERDUTY,
    "/webhooks/opsgenie": Source.OPSGENIE,
    "/webhooks/cdevents": Source.CDEVENTS,
    "/api/v1/deployments": Source.PUSH,
    "/api/v1/incidents": Source.PUSH,
}
EXAMPLE_HEADERS = {
    ("/webhooks/github", "push"): {"X-GitHub-Event": "push"},
    ("/webhooks/gitlab", "push"): {"X-Gitlab-Event": "Push Hook"},
    ("/webhooks/gitlab", "deployment"): {"X-Gitlab-Event": "Deployment Hook"},
    ("/webhooks/gitlab", "incident"): {"X-Gitlab-Event": "Issue Hook"},
    ("/api/v1/incidents", "devlake"): {"X-MetricSync-Service": "checkout"},
}


def _documented_examples(document: dict[str, Any]) -> list[tuple[str, Request]]:
    """Every request example of the document's webhook operations, signed as its sender signs it."""
    out = []
    for path, source in SENDERS.items():
        media = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        for name, example in media["examples"].items():
            body = orjson.dumps(example["value"])
            out.append((f"{path} {name}", signed_request(source, path, body, EXAMPLE_HEADERS.get((path, name)))))
    return out


def _sender_requests() -> list[Request]:
    """The senders merged after the contract: a stored delivery of each from the real payloads of tests/fixtures
    (the push API's in MetricSync's shape, docs/events.md), then a 400 (a JSON array), 413 and 415 with valid
    auth; PagerDuty signed during a secret rotation; a CDEvents batch."""
    context = orjson.loads(_json("cdevents/service_deployed.json"))["context"]
    binary = {"ce-specversion": "1.0", "ce-id": context["id"], "ce-source": context["source"]}
    binary["ce-type"] = context["type"]
    acknowledged = _json("pagerduty/incident_acknowledged__v3.json")
    senders: list[tuple[Source, str, bytes, dict[str, str]]] = [
        (Source.GITLAB, "/webhooks/gitlab", _json("gitlab/push_hook.json"), {"X-Gitlab-Event": "Push Hook"}),
        (Source.PAGERDUTY, "/webhooks/pagerduty", _json("pagerduty/incident_triggered__v3.json"), {}),
        (Source.OPSGENIE, "/webhooks/opsgenie", _json("opsgenie/alert_create.json"), {}),
        (Source.CDEVENTS, "/webhooks/cdevents", _json("cdevents/service_deployed.json"), binary),
        (
            Source.PUSH,
            "/api/v1/deployments",
            b'{"id": "fuzz-1", "service": "api", "environment": "production", "finished_at": "2026-01-05T10:06:00Z"}',
            {},
        ),
        (
            Source.PUSH,
            "/api/v1/incidents",
            b'{"id": "FUZZ-1", "service": "api", "started_at": "2026-01-05T10:00:00Z"}',
            {},
        ),
    ]
    out: list[Request] = []
    for source, path, body, headers in senders:
        out.append(signed_request(source, path, body, headers))  # 202
        out.append(signed_request(source, path, b"[1]", headers))  # 400
        out.append(signed_request(source, path, b"x" * (MAX_BODY + 1), headers))  # 413
        out.append(signed_request(source, path, body, headers, content_type="text/plain"))  # 415
    retired, current = (pagerduty_signature(key, acknowledged) for key in ("a-retired-secret", PAGERDUTY_SECRET))
    rotation = signed_request(Source.PAGERDUTY, "/webhooks/pagerduty", acknowledged)
    rotation.headers["X-PagerDuty-Signature"] = f"{retired},{current}"  # 202: any one matching suffices
    out.append(rotation)
    # batched mode: structured CloudEvents around two conformance examples (derived: the envelope only)
    events = [orjson.loads(_json(f"cdevents/{name}.json")) for name in ("incident_detected", "incident_resolved")]
    envelope = ("id", "source", "type")
    batch = orjson.dumps([{"specversion": "1.0", **{k: e["context"][k] for k in envelope}, "data": e} for e in events])
    out.append(
        signed_request(Source.CDEVENTS, "/webhooks/cdevents", batch, content_type="application/cloudevents-batch+json")
    )
    return out


def _directed(base: str, document: dict[str, Any]) -> list[tuple[str, str, int]]:
    """Requests for the statuses random data does not reach; (method, path, status answered). Every request
    example of the document must be stored (202)."""
    seen: list[tuple[str, str, int]] = []
    refused_examples: list[str] = []
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    with httpx.Client(base_url=base, timeout=10) as client:

        def record(response: httpx.Response) -> None:
            seen.append((response.request.method, response.request.url.path, response.status_code))

        for path in (
            "/api/v1/dora",
            "/api/v1/dora/series",
            "/api/v1/dora/services",
            "/api/v1/insights",
            "/api/v1/lead-time",
            "/api/v1/quality",
            "/api/v1/services",
            "/api/v1/status",
            "/api/v1/dead-letters",
        ):
            record(client.get(path))  # no token: 401
            record(client.get(path, params={"nope": "1"}, headers=auth))  # unknown parameter: 400
        for path in ("/api/v1/deployments", "/api/v1/incidents"):
            record(client.get(path))
            record(client.get(path, params={"service": "never-seen"}, headers=auth))  # 404
        ping = signed_github((FIXTURES / "github/ping__repository.json").read_bytes(), "ping", "fuzz-ping")
        record(client.post(ping.path, content=ping.body, headers=ping.headers))  # 200 pong
        push = signed_github((FIXTURES / "github/push__single_commit.json").read_bytes(), "push", "fuzz-push")
        record(client.post(push.path, content=push.body, headers=push.headers))  # 202
        big = signed_github(b'{"pad": "' + b"x" * MAX_BODY + b'"}', "push", "fuzz-big")
        record(client.post(big.path, content=big.body, headers=big.headers))  # 413
        jenkins = {"Authorization": f"Bearer {JENKINS_TOKEN}", "Content-Type": "application/json"}
        # the Jenkins fixtures keep the request's headers beside its body
        fixture = json.loads((FIXTURES / "jenkins/notification__completed__gitter.json").read_bytes())
        body = json.dumps(fixture["body"]).encode()
        record(client.post("/webhooks/jenkins", content=body, headers=jenkins))  # 202
        record(client.post("/webhooks/jenkins", content=b"x" * (MAX_BODY + 1), headers=jenkins))  # 413
        alertmanager = {"Authorization": f"Bearer {ALERTMANAGER_TOKEN}", "Content-Type": "application/json"}
        body = (FIXTURES / "alertmanager/webhook_v4__firing_two_alerts.json").read_bytes()
        record(client.post("/webhooks/alertmanager", content=body, headers=alertmanager))  # 202
        record(client.post("/webhooks/alertmanager", content=b"x" * (MAX_BODY + 1), headers=alertmanager))  # 413
        for request in _sender_requests():
            record(client.post(request.path, content=request.body, headers=request.headers))
        # a dead letter: the Jenkins fixture with a build phase no rule knows (edited copy, in memory)
        fixture["body"]["build"]["phase"] = "EXPLODED"
        fixture["body"]["build"]["number"] = 999_999
        record(client.post("/webhooks/jenkins", content=json.dumps(fixture["body"]).encode(), headers=jenkins))
        letter = _first_dead_letter(client, auth)
        one = f"/api/v1/dead-letters/{letter}"
        record(client.get(one, headers=auth))  # 200
        record(client.get(one, params={"nope": "1"}, headers=auth))  # 400
        record(client.get(one))  # 401
        record(client.get("/api/v1/dead-letters/nope", headers=auth))  # 404
        for label, request in _documented_examples(document):
            response = client.post(request.path, content=request.body, headers=request.headers)
            record(response)
            if response.status_code != 202:
                refused_examples.append(f"{label}: {response.status_code} {response.text[:300]}")
    assert refused_examples == [], "documented examples not stored"
    return seen


def _first_dead_letter(client: httpx.Client, auth: dict[str, str]) -> str:
    """The id of the first dead letter, once the normalizer has written it."""
    deadline = time.monotonic() + 30
    while True:
        letters = client.get("/api/v1/dead-letters", headers=auth).json()["dead_letters"]
        if letters:
            return str(letters[0]["id"])
        assert time.monotonic() < deadline, "the unmappable delivery never became a dead letter"
        time.sleep(0.1)


def _templated(document: dict[str, Any]) -> Callable[[str], str]:
    """A request path -> the document's path it is an instance of (`{name}` matches one or more
    characters, slashes too: a dead letter's id may hold them)."""
    patterns = [
        (re.compile("^" + re.sub(r"\\\{[^}]+\\\}", ".+", re.escape(path)) + "$"), path)
        for path in document["paths"]
        if "{" in path
    ]

    def match(path: str) -> str:
        if path in document["paths"]:
            return path
        return next((template for pattern, template in patterns if pattern.match(path)), path)

    return match


def _answered(har: Path) -> set[tuple[str, str, int]]:
    entries = json.loads(har.read_text())["log"]["entries"]
    return {
        (entry["request"]["method"], urlparse(entry["request"]["url"]).path, entry["response"]["status"])
        for entry in entries
    }


def test_schemathesis_finds_no_contract_violation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = Embedded(tmp_path)
    server.extra_env = {"METRICSYNC_API_TOKEN": API_TOKEN, "METRICSYNC_MAX_BODY_BYTES": str(MAX_BODY)}
    server.start()
    try:
        config = tmp_path / "schemathesis.toml"
        config.write_text(CONFIG)
        report_dir = tmp_path / "report"
        examples = os.environ.get("METRICSYNC_FUZZ_EXAMPLES", "25")
        seed = os.environ.get("METRICSYNC_FUZZ_SEED", "20261203")
        env = {
            **os.environ,
            "SCHEMATHESIS_HOOKS": "tests.support.fuzz_hooks",
            "PYTHONPATH": str(REPO),
            "FUZZ_GITHUB_SECRET": GITHUB_SECRET,
            "FUZZ_PAGERDUTY_SECRET": PAGERDUTY_SECRET,
            "NO_COLOR": "1",
        }
        command = [
            SCHEMATHESIS,
            "--config-file",
            str(config),
            "run",
            f"{server.base}/openapi.json",
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            "--max-examples",
            examples,
            "--seed",
            seed,
            *(option for path in sorted(NOT_FUZZED) for option in ("--exclude-path", path)),
            "--report",
            "har",
            "--report-dir",
            str(report_dir),
        ]
        run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240, check=False)
        output = run.stdout + run.stderr
        (tmp_path / "schemathesis.log").write_text(output)
        generated = re.search(r"(\d+) generated", output)
        with capsys.disabled():
            print(
                f"\nschemathesis: {generated.group(0) if generated else 'no count'} (seed {seed}, "
                f"--max-examples {examples}, exit {run.returncode})"
            )
        assert run.returncode == 0, output[-6000:]
        assert generated is not None, output[-2000:]
        assert int(generated.group(1)) > 0, output[-2000:]

        document = httpx.get(f"{server.base}/openapi.json", timeout=10).json()
        fuzzed = _answered(next(report_dir.glob("*.json")))
        reached = sorted({(p, s) for m, p, s in fuzzed if m == "POST" and p in SENDERS and 200 <= s < 300})
        with capsys.disabled():
            print(f"schemathesis: webhook 2xx reached by fuzzing: {reached}")
        answered = fuzzed | set(_directed(server.base, document))
        template = _templated(document)
        by_operation: dict[tuple[str, str], set[int]] = defaultdict(set)
        for method, path, status in answered:
            by_operation[(method, template(path))].add(status)
        missing = sorted(
            (method.upper(), path, int(status))
            for path, operations in document["paths"].items()
            if path not in NOT_FUZZED
            for method, operation in operations.items()
            for status in operation["responses"]
            if int(status) not in by_operation[(method.upper(), path)]
            and (method.upper(), path, int(status)) not in UNREACHABLE
        )
        assert missing == [], f"documented but never answered: {missing}"
        undocumented = sorted(
            (method, path, status)
            for (method, path), statuses in by_operation.items()
            if method.lower() in document["paths"].get(path, {})  # not the 405s of the unsupported-method check
            for status in statuses - {int(s) for s in document["paths"][path][method.lower()]["responses"]}
        )
        assert undocumented == [], f"answered but not documented: {undocumented}"
    finally:
        server.stop()
