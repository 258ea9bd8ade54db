"""Schemathesis hooks of the contract fuzzing (tests/e2e/test_api_fuzz.py), loaded by the `schemathesis`
process through SCHEMATHESIS_HOOKS=tests.support.fuzz_hooks.

GitHub's and PagerDuty's webhook auth is an HMAC of the body, which no static credential can give: the
schemathesis config sets the `githubSignature` and `pagerdutySignature` schemes to the placeholder
`sign-me`, and this hook replaces it with the HMAC-SHA256 of the exact bytes the request will carry
(requests' JSON encoding of the case body). PagerDuty's header carries two signatures, as during a
secret rotation: one with a retired secret first, then the valid one (any one matching suffices).
A case whose signature header was removed or changed (the negative auth checks) is left as it is.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from typing import Any

import schemathesis
from schemathesis.core import NOT_SET

PLACEHOLDER = "sign-me"
SIGNATURE = "X-Hub-Signature-256"
PAGERDUTY_SIGNATURE = "X-PagerDuty-Signature"
RETIRED_SECRET = b"fuzz-retired-pagerduty-secret"


def body_bytes(body: object) -> bytes:
    if body is NOT_SET:
        return b""
    if isinstance(body, bytes):
        return body
    return json.dumps(body, allow_nan=False).encode("utf-8")  # what requests sends for `json=`


@schemathesis.hook
def before_call(ctx: Any, case: Any, kwargs: dict[str, Any]) -> None:
    headers = case.headers or {}
    if headers.get(SIGNATURE) == PLACEHOLDER:
        secret = os.environ["FUZZ_GITHUB_SECRET"].encode()
        case.headers[SIGNATURE] = "sha256=" + hmac.new(secret, body_bytes(case.body), hashlib.sha256).hexdigest()
    if headers.get(PAGERDUTY_SIGNATURE) == PLACEHOLDER:
        body = body_bytes(case.body)
        signatures = [
            hmac.new(key, body, hashlib.sha256).hexdigest()
            for key in (RETIRED_SECRET, os.environ["FUZZ_PAGERDUTY_SECRET"].encode())
        ]
        case.headers[PAGERDUTY_SIGNATURE] = ",".join(f"v1={signature}" for signature in signatures)
