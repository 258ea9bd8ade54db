"""POST /webhooks/jenkins: Notification Plugin and CloudEvents plugin bodies, token auth, derived identity."""

from typing import Any

import httpx
import orjson
import pytest

from schemas.ids import stable_id
from schemas.sources import Source
from tests.unit.ingest.conftest import (
    JENKINS_TOKEN,
    RECEIVED_AT,
    MemorySink,
    basic,
    bearer,
    fixture_bytes,
    fixture_names,
    gitter_body,
    jenkins_headers,
    make_config,
    notification,
    open_client,
)

URL = "/webhooks/jenkins"


@pytest.mark.parametrize("name", fixture_names("jenkins", "notification__"))
async def test_notification_plugin_payload_is_stored(client: httpx.AsyncClient, sink: MemorySink, name: str) -> None:
    body = gitter_body(name)
    payload = orjson.loads(body)
    host = payload["build"]["full_url"].split("/")[2]
    job = f"{host}/{payload['url']}"
    expected_id = stable_id("jenkins", job, payload["build"]["number"], payload["build"]["phase"])

    response = await client.post(URL, content=body, headers=jenkins_headers())

    assert response.status_code == 202, response.text
    assert response.json() == {"status": "accepted", "delivery_id": expected_id}
    delivery = sink.only()
    assert (delivery.source, delivery.event_type, delivery.key) == (Source.JENKINS, "notification", job)
    assert delivery.body == body
    assert delivery.received_at == RECEIVED_AT
    assert "authorization" not in delivery.headers


# ce-* headers the cloudevents-plugin README documents next to each example (ce-id is random per send).
CLOUDEVENT_HEADERS = {
    "cloudevents__job_started__readme.json": ("org.jenkinsci.job.started", "job/test2"),
    "cloudevents__job_completed__readme.json": ("org.jenkinsci.job.completed", "job/test2"),
    "cloudevents__job_finalized__readme.json": ("org.jenkinsci.job.finalzed", "job/test2"),
    "cloudevents__job_failed__readme.json": ("org.jenkinsci.job.failed", "job/fail"),
    "cloudevents__queue_entered_waiting__readme.json": ("org.jenkinsci.queue.entered_waiting", "job/test2"),
    "cloudevents__queue_left__readme.json": ("org.jenkinsci.queue.left", "job/test2"),
}


def ce_headers(ce_type: str, ce_source: str, ce_id: str = "c42d1f19-9908-43da-9a7f-404405c52b60") -> dict[str, str]:
    return jenkins_headers(
        **{"ce-specversion": "1.0", "ce-id": ce_id, "ce-type": ce_type, "ce-source": ce_source},
        **{"content-type": "application/json"},
    )


@pytest.mark.parametrize("name", sorted(CLOUDEVENT_HEADERS))
async def test_cloudevents_payload_is_stored(client: httpx.AsyncClient, sink: MemorySink, name: str) -> None:
    ce_type, ce_source = CLOUDEVENT_HEADERS[name]
    body = fixture_bytes("jenkins", name)
    payload = orjson.loads(body)
    if "build" in payload:
        key = "3.101.116.80/" + payload["url"]
        expected_id = stable_id("jenkins", key, payload["build"]["number"], payload["build"]["phase"])
        status = "accepted"
    else:
        key = f"3.101.116.80/{ce_source}"
        expected_id = stable_id("jenkins", key, payload["jenkinsQueueId"], ce_type)
        status = "ignored"

    response = await client.post(URL, content=body, headers=ce_headers(ce_type, ce_source))

    assert response.status_code == 202, response.text
    assert response.json() == {"status": status, "delivery_id": expected_id}
    delivery = sink.only()
    assert (delivery.event_type, delivery.key, delivery.body) == (ce_type, key, body)
    assert delivery.headers["ce-type"] == ce_type


async def test_cloudevent_resent_with_a_new_ce_id_is_a_duplicate(client: httpx.AsyncClient) -> None:
    body = fixture_bytes("jenkins", "cloudevents__job_started__readme.json")

    first = await client.post(URL, content=body, headers=ce_headers("org.jenkinsci.job.started", "job/test2", "id-1"))
    again = await client.post(URL, content=body, headers=ce_headers("org.jenkinsci.job.started", "job/test2", "id-2"))

    assert [first.json()["status"], again.json()["status"]] == ["accepted", "duplicate"]


async def test_failed_cloudevent_repeats_the_finalized_one(client: httpx.AsyncClient, sink: MemorySink) -> None:
    body = fixture_bytes("jenkins", "cloudevents__job_failed__readme.json")

    finalized = await client.post(URL, content=body, headers=ce_headers("org.jenkinsci.job.finalized", "job/fail"))
    failed = await client.post(URL, content=body, headers=ce_headers("org.jenkinsci.job.failed", "job/fail"))

    assert [finalized.json()["status"], failed.json()["status"]] == ["accepted", "duplicate"]


@pytest.mark.parametrize(
    ("first", "second", "second_status"),
    [
        pytest.param(notification(), notification(timestamp=1), "duplicate", id="same-url-number-phase"),
        pytest.param(notification(phase="STARTED"), notification(phase="FINALIZED"), "accepted", id="other-phase"),
        pytest.param(notification(number=1), notification(number=2), "accepted", id="other-build"),
        pytest.param(notification(number=7), notification(number="7"), "duplicate", id="number-as-string"),
        pytest.param(
            notification(url="job/team-a/job/app/"), notification(url="job/team-b/job/app/"), "accepted",
            id="same-name-other-folder",
        ),
        pytest.param(
            notification(full_url="https://ci-1.example.com/job/folder/job/app/42/"),
            notification(full_url="https://ci-2.example.com/job/folder/job/app/42/"), "accepted",
            id="same-job-other-controller",
        ),
        pytest.param(
            notification(full_url="https://CI.example.com/x"),
            notification(full_url="https://user:pw@ci.example.com/y"), "duplicate",
            id="host-case-and-userinfo-ignored",
        ),
    ],
)  # fmt: skip
async def test_duplicates_by_job_url_build_number_and_phase(
    client: httpx.AsyncClient, first: dict[str, Any], second: dict[str, Any], second_status: str
) -> None:
    a = await client.post(URL, content=orjson.dumps(first), headers=jenkins_headers())
    b = await client.post(URL, content=orjson.dumps(second), headers=jenkins_headers())

    assert a.json()["status"] == "accepted"
    assert b.status_code == 202
    assert b.json()["status"] == second_status


@pytest.mark.parametrize(
    ("payload", "key"),
    [
        pytest.param(notification(), "ci.example.com/job/folder/job/app/", id="host-prefixed"),
        pytest.param(notification(full_url=None), "job/folder/job/app/", id="no-root-url-configured"),
        pytest.param(
            notification(full_url="http://ci:8080/jenkins/job/folder/job/app/42/"),
            "ci:8080/job/folder/job/app/",
            id="port-kept",
        ),
        pytest.param(notification(url="https://ci.example.com/job/x/"), "ci.example.com/job/x/", id="absolute-url"),
        pytest.param(notification(full_url="http://[::1"), "job/folder/job/app/", id="unparsable-full-url"),
        pytest.param({"url": "job/a/", "build": {"number": 1, "phase": "STARTED", "full_url": ["x"]}}, "job/a/",
                     id="full-url-wrong-type"),
    ],
)  # fmt: skip
async def test_ordering_key_is_the_job_url(
    client: httpx.AsyncClient, sink: MemorySink, payload: dict[str, Any], key: str
) -> None:
    response = await client.post(URL, content=orjson.dumps(payload), headers=jenkins_headers())

    assert response.status_code == 202, response.text
    assert sink.only().key == key


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        pytest.param({"name": "app", "build": {"number": 1, "phase": "STARTED"}}, ["url"], id="no-url"),
        pytest.param({"url": "job/a/"}, ["build"], id="no-build"),
        pytest.param({"url": "job/a/", "build": "6"}, ["build"], id="build-is-a-string"),
        pytest.param({"url": "job/a/", "build": None}, ["build"], id="build-is-null"),
        pytest.param(notification(number=[6]), ["build.number"], id="number-is-a-list"),
        pytest.param(notification(number=True), ["build.number"], id="number-is-a-bool"),
        pytest.param(notification(number=6.5), ["build.number"], id="number-is-a-float"),
        pytest.param(notification(number="-1"), ["build.number"], id="number-is-a-signed-string"),
        pytest.param(notification(phase=3), ["build.phase"], id="phase-is-a-number"),
        pytest.param(notification(phase=""), ["build.phase"], id="phase-is-empty"),
        pytest.param(notification(url=["job/a/"], number=None, phase=None), ["url", "build.number", "build.phase"],
                     id="all-wrong"),
        pytest.param(orjson.loads(fixture_bytes("jenkins", "outbound_webhook__success__readme.json")),
                     ["url", "build"], id="outbound-webhook-plugin"),
    ],
)  # fmt: skip
async def test_missing_identity_fields_are_400_naming_them(
    client: httpx.AsyncClient, sink: MemorySink, payload: dict[str, Any], named: list[str]
) -> None:
    response = await client.post(URL, content=orjson.dumps(payload), headers=jenkins_headers())

    assert response.status_code == 400
    assert response.json()["error"] == "missing_fields"
    for field in named:
        assert field in response.json()["detail"]
    assert sink.submitted == []


@pytest.mark.parametrize(
    ("headers", "payload", "status", "error"),
    [
        pytest.param(ce_headers("org.jenkinsci.job.started", "job/x"), {"url": "job/x/"}, 400, "missing_fields",
                     id="run-event-without-build"),
        pytest.param(ce_headers("org.jenkinsci.queue.left", "job/x"), {"ciUrl": "http://ci/"}, 400, "missing_fields",
                     id="queue-event-without-queue-id"),
        pytest.param(ce_headers("org.jenkinsci.queue.left", "job/x"), {"jenkinsQueueId": "25"}, 202, None,
                     id="queue-id-as-string"),
        pytest.param({k: v for k, v in ce_headers("org.jenkinsci.queue.left", "").items() if k != "ce-source"},
                     {"jenkinsQueueId": 25}, 400, "missing_header", id="queue-event-without-ce-source"),
        pytest.param(ce_headers("", "job/x"), notification(), 400, "missing_header", id="blank-ce-type"),
        pytest.param(ce_headers("org.jenkinsci.node.online", "node/agent-1"), {"nodeName": "agent-1"}, 202, None,
                     id="node-event"),
        pytest.param(ce_headers("org.jenkinsci.job.created", "job/x"), {"url": "job/x/", "status": "CREATED"}, 202,
                     None, id="item-event"),
    ],
)  # fmt: skip
async def test_other_cloudevents(
    client: httpx.AsyncClient, headers: dict[str, str], payload: dict[str, Any], status: int, error: str | None
) -> None:
    response = await client.post(URL, content=orjson.dumps(payload), headers=headers)

    assert response.status_code == status, response.text
    if error is None:
        assert response.json()["status"] == "ignored"
    else:
        assert response.json()["error"] == error


async def test_node_event_identity_is_its_content(client: httpx.AsyncClient) -> None:
    headers = ce_headers("org.jenkinsci.node.offline", "node/agent-1")

    first = await client.post(URL, content=b'{"connectTime": 1}', headers=headers)
    same = await client.post(URL, content=b'{"connectTime": 1}', headers=headers)
    other = await client.post(URL, content=b'{"connectTime": 2}', headers=headers)

    assert [r.json()["status"] for r in (first, same, other)] == ["ignored", "duplicate", "ignored"]


BODY = orjson.dumps(notification())
JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("headers", "query", "status", "error"),
    [
        pytest.param(bearer(JENKINS_TOKEN), "", 202, None, id="bearer-good"),
        pytest.param({"authorization": f"bearer   {JENKINS_TOKEN} "}, "", 202, None, id="bearer-lowercase-spaces"),
        pytest.param(bearer("wrong"), "", 401, "bad_token", id="bearer-bad"),
        pytest.param(bearer(""), "", 401, "bad_token", id="bearer-empty"),
        pytest.param(basic("jenkins", JENKINS_TOKEN), "", 202, None, id="basic-good"),
        pytest.param(basic("", JENKINS_TOKEN), "", 202, None, id="basic-any-user"),
        pytest.param(basic(JENKINS_TOKEN, "wrong"), "", 401, "bad_token", id="basic-token-as-user"),
        pytest.param({"authorization": "Basic !!notbase64"}, "", 401, "bad_token", id="basic-malformed"),
        pytest.param({"authorization": "Basic " + "bm9jb2xvbg=="}, "", 401, "bad_token", id="basic-no-colon"),
        pytest.param({"authorization": f"Token {JENKINS_TOKEN}"}, "", 401, "bad_token", id="unsupported-scheme"),
        pytest.param({}, f"?token={JENKINS_TOKEN}", 202, None, id="query-good"),
        pytest.param({}, "?token=wrong", 401, "bad_token", id="query-bad"),
        pytest.param({}, "?token=", 401, "bad_token", id="query-empty"),
        pytest.param({}, f"?other={JENKINS_TOKEN}", 401, "missing_token", id="query-other-name"),
        pytest.param(basic("proxy-user", "proxy-pw"), f"?token={JENKINS_TOKEN}", 202, None,
                     id="proxy-basic-and-query-token"),
        pytest.param(bearer("wrong"), "?token=wrong", 401, "bad_token", id="both-bad"),
        pytest.param({}, "", 401, "missing_token", id="none"),
    ],
)  # fmt: skip
async def test_token_auth(
    client: httpx.AsyncClient, sink: MemorySink, headers: dict[str, str], query: str, status: int, error: str | None
) -> None:
    response = await client.post(URL + query, content=BODY, headers={**JSON, **headers})

    assert response.status_code == status, response.text
    if error is not None:
        assert response.json()["error"] == error
        assert "METRICSYNC_JENKINS_TOKEN" in response.json()["detail"]
        assert JENKINS_TOKEN not in response.text
        assert sink.submitted == []


async def test_no_token_configured_refuses_naming_the_variable(sink: MemorySink) -> None:
    async with open_client(make_config(jenkins_token=None), sink) as client:
        response = await client.post(URL, content=BODY, headers=jenkins_headers())

    assert response.status_code == 401
    assert response.json()["error"] == "not_configured"
    assert "METRICSYNC_JENKINS_TOKEN" in response.json()["detail"]


async def test_allow_unsigned_accepts_without_token(sink: MemorySink) -> None:
    async with open_client(make_config(jenkins_token=None, allow_unsigned=True), sink) as client:
        response = await client.post(URL, content=BODY, headers=JSON)

    assert response.status_code == 202


async def test_allow_unsigned_still_checks_a_configured_token(sink: MemorySink) -> None:
    async with open_client(make_config(allow_unsigned=True), sink) as client:
        response = await client.post(URL, content=BODY, headers=JSON)

    assert response.status_code == 401


@pytest.mark.parametrize("content_type", ["application/xml", "text/xml; charset=UTF-8"])
async def test_xml_format_is_415_telling_to_switch_to_json(client: httpx.AsyncClient, content_type: str) -> None:
    response = await client.post(
        URL, content=b"<jobState/>", headers={**jenkins_headers(), "content-type": content_type}
    )

    assert response.status_code == 415
    assert "Format to JSON" in response.json()["detail"]


async def test_token_auth_is_checked_before_the_body_is_read(client: httpx.AsyncClient) -> None:
    pulled = 0

    async def body() -> Any:
        nonlocal pulled
        for _ in range(100):
            pulled += 1
            yield b" " * 1024

    response = await client.post(URL, content=body(), headers={**JSON, **bearer("wrong")})

    assert response.status_code == 401
    assert pulled == 0
