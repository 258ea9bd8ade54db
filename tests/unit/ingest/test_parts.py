"""The pure parts on their own: signature check, basic-auth parsing, stored headers, identities."""

import base64

import pytest
from pydantic import SecretStr
from starlette.datastructures import Headers

from ingest.auth import GitHubSignature, _basic_password
from ingest.body import is_json_media_type
from ingest.errors import BadRequest, Unauthorized
from ingest.headers import stored_headers
from ingest.identity import alertmanager_identity, github_identity, jenkins_identity
from schemas.ids import body_digest, stable_id

VECTOR_SECRET = "It's a Secret to Everybody"
VECTOR_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_github_documented_test_vector() -> None:
    verifier = GitHubSignature(SecretStr(VECTOR_SECRET), allow_sha1=False)

    verifier.check_body(Headers({"x-hub-signature-256": VECTOR_SIGNATURE}), b"Hello, World!")

    with pytest.raises(Unauthorized):
        verifier.check_body(Headers({"x-hub-signature-256": VECTOR_SIGNATURE}), b"Hello, World?")


@pytest.mark.parametrize(
    ("credentials", "password"),
    [
        pytest.param(base64.b64encode(b"user:pw").decode(), b"pw", id="user-and-password"),
        pytest.param(base64.b64encode(b":pw").decode(), b"pw", id="no-user"),
        pytest.param(base64.b64encode(b"u:p:w").decode(), b"p:w", id="colon-in-password"),
        pytest.param(base64.b64encode(b"user:").decode(), b"", id="empty-password"),
        pytest.param(base64.b64encode(b"nocolon").decode(), None, id="no-colon"),
        pytest.param("not base64!", None, id="not-base64"),
        pytest.param("\u00e9\u00e9", None, id="latin-1-chars"),
        pytest.param("", None, id="empty"),
    ],
)
def test_basic_password(credentials: str, password: bytes | None) -> None:
    assert _basic_password(credentials) == password


@pytest.mark.parametrize(
    ("content_type", "is_json"),
    [
        ("application/json", True),
        (" application/json ; charset=utf-8", True),
        ("application/problem+json", True),
        ("application/json-seq", False),
        ("application/+json-ish", False),
        ("text/json", False),
        ("", False),
    ],
)
def test_json_media_types(content_type: str, is_json: bool) -> None:
    assert is_json_media_type(content_type) is is_json


def test_stored_headers_drop_credentials_and_join_repeats() -> None:
    raw = [
        (b"Content-Type", b"application/json"),
        (b"authorization", b"Bearer t"),
        (b"proxy-authorization", b"Basic x"),
        (b"cookie", b"a=b"),
        (b"x-hub-signature-256", b"sha256=00"),
        (b"x-hub-signature", b"sha1=00"),
        (b"x-auth-token", b"t"),
        (b"x-api-key", b"k"),
        (b"x-gitlab-token", b"t"),
        (b"x-webhook-secret", b"s"),
        (b"x-github-event", b"push"),
        (b"ce-id", b"1"),
        (b"via", b"proxy-1"),
        (b"via", b"proxy-2"),
        (b"user-agent", b"caf\xe9"),
    ]

    assert stored_headers(raw) == {
        "content-type": "application/json",
        "x-github-event": "push",
        "ce-id": "1",
        "via": "proxy-1, proxy-2",
        "user-agent": "caf\u00e9",
    }


def test_github_identity() -> None:
    headers = {"x-github-delivery": " guid-1 "}

    identity = github_identity(headers, "workflow_job", {"repository": {"full_name": "O/R"}})

    assert (identity.delivery_id, identity.event_type, identity.key, identity.mapped) == (
        "guid-1",
        "workflow_job",
        "o/r",
        False,
    )


def test_jenkins_identity_is_stable_across_plugins() -> None:
    """One build phase reported by the Notification Plugin and by the CloudEvents plugin is one delivery."""
    notification = {"url": "job/app/", "build": {"number": 3, "phase": "COMPLETED", "full_url": "http://ci/job/app/3/"}}
    cloudevent = {"url": "job/app/", "build": {"number": 3, "phase": "COMPLETED", "fullUrl": "http://ci/job/app/3/"}}

    a = jenkins_identity({}, notification, b"")
    b = jenkins_identity({"ce-type": "org.jenkinsci.job.completed"}, cloudevent, b"")

    assert a.delivery_id == b.delivery_id == stable_id("jenkins", "ci/job/app/", 3, "COMPLETED")
    assert (a.event_type, b.event_type) == ("notification", "org.jenkinsci.job.completed")


def test_jenkins_phase_case_does_not_matter() -> None:
    upper = jenkins_identity({}, {"url": "job/a/", "build": {"number": 1, "phase": "STARTED"}}, b"")
    lower = jenkins_identity({}, {"url": "job/a/", "build": {"number": 1, "phase": "started"}}, b"")

    assert upper.delivery_id == lower.delivery_id


def test_alertmanager_identity_is_the_body_digest() -> None:
    body = b'{"alerts": []}'

    assert alertmanager_identity({"alerts": []}, body).delivery_id == body_digest(body)
    with pytest.raises(BadRequest):
        alertmanager_identity({"alerts": "x"}, body)
