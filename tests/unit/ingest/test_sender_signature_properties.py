"""Properties of the checks of the senders merged after the contract (Hypothesis), through the verifiers their
modules build: PagerDuty's V3 HMAC signatures (several during a secret rotation: any one matching passes),
GitLab's `X-Gitlab-Token`, and the bearer/basic(/query) tokens of Opsgenie, CDEvents and the push API.
What the sender sends passes; any change to body, secret, signature or token is refused with 401 (never
another error)."""

from __future__ import annotations

import base64
import hmac
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from ingest.auth import Verifier
from ingest.cdevents import cdevents_verifier
from ingest.errors import Unauthorized
from ingest.gitlab import gitlab_verifier
from ingest.opsgenie import opsgenie_verifier
from ingest.pagerduty import pagerduty_verifier
from ingest.push_api import push_verifier

secrets = st.text(min_size=1, max_size=64).filter(lambda s: s.strip() != "")
bodies = st.binary(max_size=2048)
# what an HTTP header can carry as a token (visible ASCII)
tokens = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=64)
latin1 = st.text(alphabet=st.characters(max_codepoint=255), max_size=120)  # header values as ASGI decodes them

SIGNATURE = "x-pagerduty-signature"


def v1(secret: str, body: bytes) -> str:
    """One signature as PagerDuty sends it: `v1=` + lower-case hex HMAC-SHA256 of the raw body."""
    return "v1=" + hmac.new(secret.encode("utf-8"), body, "sha256").hexdigest()


def pagerduty(secret: str) -> Verifier:
    return pagerduty_verifier(SecretStr(secret), allow_unsigned=False)


def check(verifier: Verifier, headers: dict[str, str], body: bytes = b"", query: bytes = b"") -> None:
    verifier.check_headers(headers, query)
    verifier.check_body(headers, body)


def refused(verifier: Verifier, headers: dict[str, str], body: bytes = b"", query: bytes = b"") -> str:
    """The code of the 401 (any other exception fails the test)."""
    with pytest.raises(Unauthorized) as error:
        check(verifier, headers, body, query)
    return error.value.code


# --- PagerDuty ------------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(secret=secrets, body=bodies, upper=st.booleans())
def test_what_pagerduty_signs_passes(secret: str, body: bytes, upper: bool) -> None:
    signature = v1(secret, body)
    check(pagerduty(secret), {SIGNATURE: "v1=" + signature[3:].upper() if upper else signature}, body)


@settings(max_examples=200, deadline=None)
@given(secret=secrets, body=bodies, data=st.data())
def test_pagerduty_refuses_a_changed_body(secret: str, body: bytes, data: st.DataObject) -> None:
    changed = data.draw(bodies.filter(lambda other: other != body), label="changed body")
    assert refused(pagerduty(secret), {SIGNATURE: v1(secret, body)}, changed) == "bad_signature"


@settings(max_examples=200, deadline=None)
@given(secret=secrets, other=secrets, body=bodies)
def test_pagerduty_refuses_another_secret(secret: str, other: str, body: bytes) -> None:
    if other.encode() == secret.encode():
        return
    assert refused(pagerduty(secret), {SIGNATURE: v1(other, body)}, body) == "bad_signature"


@settings(max_examples=200, deadline=None)
@given(
    secret=secrets,
    retired=st.lists(secrets, max_size=4),
    unknown=st.lists(st.from_regex(r"v[02-9]=[0-9a-f]{8,64}", fullmatch=True), max_size=2),
    body=bodies,
    data=st.data(),
)
def test_rotated_signatures_pass_when_any_one_matches(
    secret: str, retired: list[str], unknown: list[str], body: bytes, data: st.DataObject
) -> None:
    """During a rotation PagerDuty sends one `v1=` per secret, comma-separated (spaces allowed); other versions
    are skipped. With the current secret among them, wherever it is, the request passes; without, 401."""
    others = [v1(key, body) for key in retired if key.encode() != secret.encode()] + unknown
    position = data.draw(st.integers(0, len(others)), label="position of the valid signature")
    separator = data.draw(st.sampled_from([",", ", ", " , "]), label="separator")
    parts = [*others[:position], v1(secret, body), *others[position:]]
    check(pagerduty(secret), {SIGNATURE: separator.join(parts)}, body)
    if others:
        expected = "bad_signature" if any(part.startswith("v1=") for part in others) else "malformed_signature"
        assert refused(pagerduty(secret), {SIGNATURE: separator.join(others)}, body) == expected


@settings(max_examples=300, deadline=None)
@given(secret=secrets, body=bodies, header=latin1)
def test_arbitrary_pagerduty_signature_headers_get_a_401(secret: str, body: bytes, header: str) -> None:
    """Whatever the header says (latin-1 text, as ASGI decodes it), a 401, never a crash."""
    valid = v1(secret, body)
    if any(part.strip().partition("=")[2].strip().lower() == valid[3:] for part in header.split(",")):
        return
    code = refused(pagerduty(secret), {SIGNATURE: header} if header else {}, body)
    assert code in {"missing_signature", "malformed_signature", "bad_signature"}


# --- tokens: GitLab's header, bearer/basic(/query) -------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(token=tokens, presented=tokens)
def test_gitlab_token_passes_exactly_when_it_matches(token: str, presented: str) -> None:
    verifier = gitlab_verifier(SecretStr(token), allow_unsigned=False)
    check(verifier, {"x-gitlab-token": token})
    if presented != token:
        assert refused(verifier, {"x-gitlab-token": presented}) == "bad_token"
    assert refused(verifier, {"authorization": f"Bearer {token}"}) == "missing_token"  # only its own header


@settings(max_examples=200, deadline=None)
@given(token=tokens, header=latin1)
def test_arbitrary_gitlab_token_headers_get_a_401(token: str, header: str) -> None:
    if header == token:
        return
    assert refused(gitlab_verifier(SecretStr(token), allow_unsigned=False), {"x-gitlab-token": header}) == "bad_token"


TOKEN_SENDERS: list[tuple[str, Callable[..., Verifier], bool]] = [
    ("opsgenie", opsgenie_verifier, False),
    ("cdevents", cdevents_verifier, True),
    ("push", push_verifier, False),
]


def _query(token: str) -> bytes:
    return b"token=" + token.encode().replace(b"%", b"%25").replace(b"&", b"%26").replace(b"+", b"%2B")


@pytest.mark.parametrize(("name", "make", "query"), TOKEN_SENDERS, ids=[name for name, _, _ in TOKEN_SENDERS])
@settings(max_examples=100, deadline=None)
@given(token=tokens, presented=tokens, user=tokens.filter(lambda u: ":" not in u))  # RFC 7617: no colon in a user
def test_sender_token_passes_exactly_when_it_matches(
    name: str, make: Callable[..., Verifier], query: bool, token: str, presented: str, user: str
) -> None:
    verifier = make(SecretStr(token), allow_unsigned=False)
    basic = base64.b64encode(f"{user}:{presented}".encode()).decode()
    for headers in ({"authorization": f"Bearer {presented}"}, {"authorization": f"Basic {basic}"}):
        if presented == token:
            check(verifier, headers)
        else:
            assert refused(verifier, headers) == "bad_token"
    if not query:  # only CDEvents takes `?token=` (sinks that cannot set headers)
        assert refused(verifier, {}, query=_query(token)) == "missing_token"
    elif presented == token:
        check(verifier, {}, query=_query(presented))
    else:
        assert refused(verifier, {}, query=_query(presented)) == "bad_token"


@pytest.mark.parametrize(
    "make", [gitlab_verifier, pagerduty_verifier, opsgenie_verifier, cdevents_verifier, push_verifier]
)
@settings(max_examples=50, deadline=None)
@given(blank=st.sampled_from(["", " ", "\t\n"]), token=tokens)
def test_no_secret_refuses_everything_unless_unsigned_allowed(
    make: Callable[..., Verifier], blank: str, token: str
) -> None:
    headers = {"authorization": f"Bearer {token}", "x-gitlab-token": token, SIGNATURE: v1(token, b"{}")}
    for secret in (None, SecretStr(blank)):
        assert refused(make(secret, allow_unsigned=False), headers, b"{}") == "not_configured"
        check(make(secret, allow_unsigned=True), headers, b"{}")
