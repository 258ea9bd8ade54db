"""Properties of the webhook signature and token checks (Hypothesis): what GitHub signs passes, and any
change to body, secret or signature is refused with 401 (never another error); tokens likewise."""

from __future__ import annotations

import base64
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from ingest.auth import GitHubSignature, TokenAuth
from ingest.errors import Unauthorized

secrets = st.text(min_size=1, max_size=64).filter(lambda s: s.strip() != "")
bodies = st.binary(max_size=2048)
tokens = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=64)


def github_headers(secret: str, body: bytes, algorithm: str = "sha256") -> dict[str, str]:
    """What GitHub sends: `sha256=` + lower-case hex HMAC of the raw body."""
    digest = hmac.new(secret.encode("utf-8"), body, algorithm).hexdigest()
    name = "x-hub-signature-256" if algorithm == "sha256" else "x-hub-signature"
    return {name: f"{algorithm}={digest}"}


@settings(max_examples=200, deadline=None)
@given(secret=secrets, body=bodies)
def test_what_github_signs_passes(secret: str, body: bytes) -> None:
    verifier = GitHubSignature(SecretStr(secret), allow_sha1=False)
    headers = github_headers(secret, body)
    verifier.check_headers(headers, b"")
    verifier.check_body(headers, body)
    upper = {name: value.upper().replace("SHA256=", "sha256=") for name, value in headers.items()}
    verifier.check_body(upper, body)  # hex case does not matter


@settings(max_examples=200, deadline=None)
@given(secret=secrets, body=bodies, data=st.data())
def test_any_change_to_the_body_is_refused(secret: str, body: bytes, data: st.DataObject) -> None:
    changed = data.draw(bodies.filter(lambda other: other != body), label="changed body")
    verifier = GitHubSignature(SecretStr(secret), allow_sha1=False)
    with pytest.raises(Unauthorized) as refused:
        verifier.check_body(github_headers(secret, body), changed)
    assert refused.value.code == "bad_signature"


@settings(max_examples=200, deadline=None)
@given(secret=secrets, other=secrets, body=bodies)
def test_another_secret_is_refused(secret: str, other: str, body: bytes) -> None:
    if other.encode() == secret.encode():
        return
    verifier = GitHubSignature(SecretStr(secret), allow_sha1=True)
    for algorithm in ("sha256", "sha1"):
        with pytest.raises(Unauthorized):
            verifier.check_body(github_headers(other, body, algorithm), body)


@settings(max_examples=300, deadline=None)
@given(secret=secrets, body=bodies, header=st.text(max_size=100))
def test_arbitrary_signature_headers_get_a_401(secret: str, body: bytes, header: str) -> None:
    """Whatever the header says (latin-1 text, as ASGI decodes it), the answer is a 401, never a crash."""
    if hmac.compare_digest(
        header.lower().encode("latin-1", "replace"), github_headers(secret, body)["x-hub-signature-256"].encode()
    ):
        return
    verifier = GitHubSignature(SecretStr(secret), allow_sha1=False)
    with pytest.raises(Unauthorized):
        verifier.check_body({"x-hub-signature-256": header.encode("latin-1", "replace").decode("latin-1")}, body)


@settings(max_examples=200, deadline=None)
@given(secret=secrets, body=bodies)
def test_sha1_only_when_allowed(secret: str, body: bytes) -> None:
    headers = github_headers(secret, body, "sha1")
    GitHubSignature(SecretStr(secret), allow_sha1=True).check_body(headers, body)
    with pytest.raises(Unauthorized) as refused:
        GitHubSignature(SecretStr(secret), allow_sha1=False).check_headers(headers, b"")
    assert refused.value.code == "sha1_signature_refused"


@settings(max_examples=200, deadline=None)
@given(token=tokens, presented=tokens, user=tokens.filter(lambda u: ":" not in u))  # RFC 7617: no colon in a user
def test_token_passes_exactly_when_it_matches(token: str, presented: str, user: str) -> None:
    auth = TokenAuth(SecretStr(token), sender="Jenkins", variable="METRICSYNC_JENKINS_TOKEN", allow_query=True)
    basic = base64.b64encode(f"{user}:{presented}".encode()).decode()
    ways = [
        ({"authorization": f"Bearer {presented}"}, b""),
        ({"authorization": f"Basic {basic}"}, b""),
        ({}, b"token=" + presented.encode().replace(b"%", b"%25").replace(b"&", b"%26").replace(b"+", b"%2B")),
    ]
    for headers, query in ways:
        if presented == token:
            auth.check_headers(headers, query)
        else:
            with pytest.raises(Unauthorized) as refused:
                auth.check_headers(headers, query)
            assert refused.value.code == "bad_token"
            if len(token) >= 12:  # a short token may happen to be a word of the message
                assert token not in refused.value.detail
