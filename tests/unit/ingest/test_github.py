"""POST /webhooks/github: HMAC verification, event types, identity, duplicates."""

import httpx
import orjson
import pytest
from pydantic import SecretStr

from schemas.sources import GITHUB_MAPPED_EVENTS, Source
from tests.unit.ingest.conftest import (
    DELIVERY_GUID,
    RECEIVED_AT,
    MemorySink,
    fixture_bytes,
    fixture_names,
    github_event_of,
    github_headers,
    make_config,
    open_client,
    sign,
)

URL = "/webhooks/github"
STORED_FIXTURES = [name for name in fixture_names("github") if not name.startswith("ping")]
PUSH = fixture_bytes("github", "push__single_commit.json")


@pytest.mark.parametrize("name", STORED_FIXTURES)
async def test_real_payload_is_stored_verbatim(client: httpx.AsyncClient, sink: MemorySink, name: str) -> None:
    body = fixture_bytes("github", name)
    event = github_event_of(name)

    response = await client.post(URL, content=body, headers=github_headers(body, event))

    expected = "accepted" if event in GITHUB_MAPPED_EVENTS else "ignored"
    assert response.status_code == 202, response.text
    assert response.json() == {"status": expected, "delivery_id": DELIVERY_GUID}
    delivery = sink.only()
    assert delivery.source is Source.GITHUB
    assert delivery.event_type == event
    assert delivery.delivery_id == DELIVERY_GUID
    assert delivery.body == body
    assert delivery.received_at == RECEIVED_AT
    assert delivery.key == orjson.loads(body)["repository"]["full_name"].lower()
    assert sink.payloads == [orjson.loads(body)]  # the parsed body goes along, for in-process mapping


async def test_stored_headers_keep_github_context_and_drop_credentials(
    client: httpx.AsyncClient, sink: MemorySink
) -> None:
    headers = github_headers(
        PUSH,
        "push",
        **{"X-Hub-Signature": sign(PUSH, algorithm="sha1"), "Cookie": "session=abc", "x-github-hook-id": "7"},
    )

    response = await client.post(URL, content=PUSH, headers=headers)

    assert response.status_code == 202
    stored = sink.only().headers
    assert stored["x-github-event"] == "push"
    assert stored["x-github-delivery"] == DELIVERY_GUID
    assert stored["x-github-hook-id"] == "7"
    assert stored["user-agent"].startswith("GitHub-Hookshot/")
    assert not [name for name in stored if "signature" in name or name in {"cookie", "authorization"}]
    assert all(name == name.lower() for name in stored)


@pytest.mark.parametrize(
    ("payload", "key"),
    [
        pytest.param({"repository": {"full_name": "Octo-Org/Hello-World"}}, "octo-org/hello-world", id="repository"),
        pytest.param(
            {"repository": {"full_name": "A/B"}, "organization": {"login": "Other"}}, "a/b", id="repository-first"
        ),
        pytest.param({"organization": {"login": "Octo-Org"}}, "octo-org", id="organization-only"),
        pytest.param({"repository": "not-an-object", "organization": {"login": "Org"}}, "org", id="repo-wrong-type"),
        pytest.param({"repository": {"full_name": 7}}, "github", id="full-name-wrong-type"),
        pytest.param({"enterprise": {"slug": "x"}}, "github", id="neither"),
    ],
)
async def test_ordering_key(client: httpx.AsyncClient, sink: MemorySink, payload: dict[str, object], key: str) -> None:
    body = orjson.dumps(payload)

    response = await client.post(URL, content=body, headers=github_headers(body, "push"))

    assert response.status_code == 202
    assert sink.only().key == key


async def test_ping_answers_pong_without_storing(client: httpx.AsyncClient, sink: MemorySink) -> None:
    body = fixture_bytes("github", "ping__repository.json")

    response = await client.post(URL, content=body, headers=github_headers(body, "ping"))

    assert response.status_code == 200
    assert response.json() == {"status": "pong", "delivery_id": DELIVERY_GUID}
    assert sink.submitted == []


async def test_ping_is_verified_too(client: httpx.AsyncClient, sink: MemorySink) -> None:
    body = fixture_bytes("github", "ping__repository.json")
    headers = github_headers(body, "ping", **{"x-hub-signature-256": sign(body, secret="wrong")})

    response = await client.post(URL, content=body, headers=headers)

    assert response.status_code == 401
    assert response.json()["error"] == "bad_signature"


async def test_unmapped_event_is_stored_and_ignored(client: httpx.AsyncClient, sink: MemorySink) -> None:
    body = b'{"zen": "whatever", "repository": {"full_name": "o/r"}}'

    response = await client.post(URL, content=body, headers=github_headers(body, "star"))

    assert response.status_code == 202
    assert response.json()["status"] == "ignored"
    assert sink.only().event_type == "star"


def _without(headers: dict[str, str], *names: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k not in names}


SHA1 = sign(PUSH, algorithm="sha1")
SHA256 = sign(PUSH)


@pytest.mark.parametrize(
    ("signatures", "allow_sha1", "status", "error"),
    [
        pytest.param({"x-hub-signature-256": SHA256}, False, 202, None, id="sha256-good"),
        pytest.param({"x-hub-signature-256": SHA256.upper().replace("SHA256=", "sha256=")}, False, 202, None,
                     id="sha256-uppercase-hex"),
        pytest.param({"x-hub-signature-256": sign(PUSH, "wrong")}, False, 401, "bad_signature",
                     id="sha256-wrong-secret"),
        pytest.param({"x-hub-signature-256": sign(PUSH + b" ")}, False, 401, "bad_signature", id="sha256-other-body"),
        pytest.param({"x-hub-signature-256": SHA256[7:]}, False, 401, "malformed_signature", id="sha256-no-prefix"),
        pytest.param({"x-hub-signature-256": "sha256=zz"}, False, 401, "bad_signature", id="sha256-garbage"),
        pytest.param({}, False, 401, "missing_signature", id="missing"),
        pytest.param({}, True, 401, "missing_signature", id="missing-sha1-allowed"),
        pytest.param({"x-hub-signature": SHA1}, False, 401, "sha1_signature_refused", id="sha1-refused"),
        pytest.param({"x-hub-signature": SHA1}, True, 202, None, id="sha1-allowed"),
        pytest.param({"x-hub-signature": sign(PUSH, "wrong", "sha1")}, True, 401, "bad_signature",
                     id="sha1-allowed-wrong"),
        pytest.param({"x-hub-signature": SHA256}, True, 401, "malformed_signature", id="sha1-header-sha256-value"),
        pytest.param({"x-hub-signature-256": SHA256, "x-hub-signature": "sha1=junk"}, False, 202, None,
                     id="sha256-wins-over-bad-sha1"),
        pytest.param({"x-hub-signature-256": sign(PUSH, "wrong"), "x-hub-signature": SHA1}, True, 401,
                     "bad_signature", id="bad-sha256-no-fallback-to-sha1"),
    ],
)  # fmt: skip
async def test_signature(
    sink: MemorySink, signatures: dict[str, str], allow_sha1: bool, status: int, error: str | None
) -> None:
    headers = {**_without(github_headers(PUSH, "push"), "x-hub-signature-256"), **signatures}

    async with open_client(make_config(github_allow_sha1=allow_sha1), sink) as client:
        response = await client.post(URL, content=PUSH, headers=headers)

    assert response.status_code == status, response.text
    if error is None:
        assert len(sink.stored) == 1
    else:
        assert response.json()["error"] == error
        assert "METRICSYNC_GITHUB" in response.json()["detail"] or error == "malformed_signature"
        assert sink.submitted == []


async def test_non_ascii_signature_bytes_are_401_not_500(client: httpx.AsyncClient) -> None:
    headers = [
        (k.encode(), v.encode()) for k, v in _without(github_headers(PUSH, "push"), "x-hub-signature-256").items()
    ]
    headers.append((b"x-hub-signature-256", b"sha256=\xe9\xff\x00"))

    response = await client.post(URL, content=PUSH, headers=headers)

    assert response.status_code == 401
    assert response.json()["error"] == "bad_signature"


async def test_documented_test_vector_verifies(client: httpx.AsyncClient, sink: MemorySink) -> None:
    """GitHub's vector: the signature passes, so the refusal is about the body, not about auth."""
    body = b"Hello, World!"
    headers = github_headers(
        body,
        "push",
        **{"x-hub-signature-256": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"},
    )

    response = await client.post(URL, content=body, headers=headers)

    assert response.status_code == 400
    assert response.json()["error"] == "malformed_json"
    assert sign(body) == headers["x-hub-signature-256"]


async def test_no_secret_configured_refuses_naming_the_variable(sink: MemorySink) -> None:
    async with open_client(make_config(github_secret=None), sink) as client:
        response = await client.post(URL, content=PUSH, headers=github_headers(PUSH, "push"))

    assert response.status_code == 401
    assert response.json()["error"] == "not_configured"
    assert "METRICSYNC_GITHUB_SECRET" in response.json()["detail"]
    assert sink.submitted == []


async def test_blank_secret_counts_as_not_configured(sink: MemorySink) -> None:
    async with open_client(make_config(github_secret=SecretStr("  ")), sink) as client:
        response = await client.post(URL, content=PUSH, headers=github_headers(PUSH, "push"))

    assert response.status_code == 401
    assert response.json()["error"] == "not_configured"


async def test_allow_unsigned_accepts_without_signature(sink: MemorySink) -> None:
    headers = _without(github_headers(PUSH, "push"), "x-hub-signature-256")

    async with open_client(make_config(github_secret=None, allow_unsigned=True), sink) as client:
        response = await client.post(URL, content=PUSH, headers=headers)

    assert response.status_code == 202
    assert response.json()["status"] == "accepted"


async def test_allow_unsigned_still_verifies_a_configured_secret(sink: MemorySink) -> None:
    headers = github_headers(PUSH, "push", **{"x-hub-signature-256": sign(PUSH, "wrong")})

    async with open_client(make_config(allow_unsigned=True), sink) as client:
        bad = await client.post(URL, content=PUSH, headers=headers)
        missing = await client.post(URL, content=PUSH, headers=_without(headers, "x-hub-signature-256"))

    assert (bad.status_code, missing.status_code) == (401, 401)
    assert sink.submitted == []


async def test_redelivery_is_a_duplicate(client: httpx.AsyncClient, sink: MemorySink) -> None:
    first = await client.post(URL, content=PUSH, headers=github_headers(PUSH, "push"))
    again = await client.post(URL, content=PUSH, headers=github_headers(PUSH, "push"))

    assert first.json() == {"status": "accepted", "delivery_id": DELIVERY_GUID}
    assert again.status_code == 202
    assert again.json() == {"status": "duplicate", "delivery_id": DELIVERY_GUID}
    assert len(sink.stored) == 1
    assert len(sink.submitted) == 2


async def test_repo_hook_and_org_hook_sharing_a_guid_store_once(client: httpx.AsyncClient, sink: MemorySink) -> None:
    repo_hook = github_headers(
        PUSH, "push", **{"x-github-hook-id": "1", "x-github-hook-installation-target-type": "repository"}
    )
    org_hook = github_headers(
        PUSH, "push", **{"x-github-hook-id": "2", "x-github-hook-installation-target-type": "organization"}
    )

    first = await client.post(URL, content=PUSH, headers=repo_hook)
    second = await client.post(URL, content=PUSH, headers=org_hook)

    assert [first.json()["status"], second.json()["status"]] == ["accepted", "duplicate"]
    assert sink.only().headers["x-github-hook-id"] == "1"


async def test_distinct_deliveries_are_both_accepted(client: httpx.AsyncClient, sink: MemorySink) -> None:
    for guid in ("a-1", "a-2"):
        response = await client.post(URL, content=PUSH, headers=github_headers(PUSH, "push", guid))
        assert response.json() == {"status": "accepted", "delivery_id": guid}
    assert sorted(sink.stored) == ["a-1", "a-2"]


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        pytest.param("x-github-event", "X-GitHub-Event", id="event"),
        pytest.param("x-github-delivery", "X-GitHub-Delivery", id="delivery"),
    ],
)
async def test_missing_identity_header_is_400_naming_it(
    client: httpx.AsyncClient, sink: MemorySink, missing: str, named: str
) -> None:
    response = await client.post(URL, content=PUSH, headers=_without(github_headers(PUSH, "push"), missing))

    assert response.status_code == 400
    assert response.json()["error"] == "missing_header"
    assert named in response.json()["detail"]
    assert sink.submitted == []


async def test_overlong_delivery_header_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(URL, content=PUSH, headers=github_headers(PUSH, "push", "d" * 500))

    assert response.status_code == 400
    assert response.json()["error"] == "bad_header"


async def test_form_encoded_hook_is_415_telling_to_switch_to_json(client: httpx.AsyncClient, sink: MemorySink) -> None:
    body = b"payload=" + PUSH
    headers = {**github_headers(body, "push"), "content-type": "application/x-www-form-urlencoded"}

    response = await client.post(URL, content=body, headers=headers)

    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_content_type"
    assert "application/json" in response.json()["detail"]
    assert "Content type" in response.json()["detail"]
    assert sink.submitted == []
