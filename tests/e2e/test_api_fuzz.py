"""The published contract, fuzzed: Schemathesis against a real `metricsync serve` process, from the
OpenAPI document the process serves, read and webhook endpoints with their auth.

Checks: no 5xx, every response conforms to its schema (status code, content type, headers, body), auth
is enforced, schema-violating requests are refused. Bounded: METRICSYNC_FUZZ_EXAMPLES cases per
operation and phase (default 25; about 30 s on 2 cores). The number of generated cases is printed.

Then every status code the document lists must have been answered: from the fuzzing (read off its HAR
report) or, for those random data does not reach (a stored webhook needs a real payload, 413 a large
body), from directed requests with real payloads. Two are not reachable on a healthy server and are
tested where they can be produced: 503 from /readyz and the webhooks (tests/unit/ingest/test_health.py,
tests/unit/ingest/test_parts.py: a sink that is starting or unavailable).

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
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from tests.support.embedded import Embedded
from tests.support.webhooks import ALERTMANAGER_TOKEN, FIXTURES, GITHUB_SECRET, JENKINS_TOKEN, signed_github

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
"""

# An event stream stays open while the client listens: not fuzzed (a request would wait for its end);
# its scope parameters are the read API's, and tests/unit/runtime/test_dashboard_* and tests/browser test it.
# /mcp's bodies are JSON-RPC messages the Model Context Protocol defines, not modelled in the document
# (GET opens a stream too); tests/unit/runtime/test_lead_time_api.py, tests/e2e/test_mcp_process.py and
# tests/integration/test_distributed_mcp.py test it with the protocol's client.
NOT_FUZZED = {"/api/v1/stream", "/mcp"}

# Sources merged after the contract: fuzzed (no 5xx, conformance), but their auth is not yet in the
# document's securitySchemes nor in CONFIG, so their 2xx are not reached here yet (a known gap)
AUTH_NOT_MODELLED = {
    ("POST", path, status)
    for path in (
        "/webhooks/gitlab",
        "/webhooks/pagerduty",
        "/webhooks/opsgenie",
        "/webhooks/cdevents",
        "/api/v1/deployments",
        "/api/v1/incidents",
    )
    for status in (202, 400, 413, 415, 503)
}

# (method, path, status): not reachable on a healthy server; see the module docstring for where tested
UNREACHABLE = {
    ("POST", "/webhooks/github", 503),
    ("POST", "/webhooks/jenkins", 503),
    ("POST", "/webhooks/alertmanager", 503),
    ("GET", "/readyz", 503),
}


def _directed(base: str) -> list[tuple[str, str, int]]:
    """Requests for the statuses random data does not reach; (method, path, status answered)."""
    seen: list[tuple[str, str, int]] = []
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
    return seen


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

        answered = _answered(next(report_dir.glob("*.json"))) | set(_directed(server.base))
        document = httpx.get(f"{server.base}/openapi.json", timeout=10).json()
        by_operation: dict[tuple[str, str], set[int]] = defaultdict(set)
        for method, path, status in answered:
            by_operation[(method, path)].add(status)
        missing = sorted(
            (method.upper(), path, int(status))
            for path, operations in document["paths"].items()
            if path not in NOT_FUZZED
            for method, operation in operations.items()
            for status in operation["responses"]
            if int(status) not in by_operation[(method.upper(), path)]
            and (method.upper(), path, int(status)) not in UNREACHABLE | AUTH_NOT_MODELLED
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
