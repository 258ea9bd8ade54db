"""Dead letters for operators, distributed mode on the real servers: list, filter, page (cursor, `next`
URL and `Link` header), export (CSV) and fetch them through the token-protected read API, replay them
through the current rules; a second replay changes nothing."""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pytest
from pymongo import MongoClient

from tests.support import scenario
from tests.support.distributed import Distributed
from tests.support.process import wait_until
from tests.support.webhooks import JENKINS_TOKEN, Request

pytestmark = [pytest.mark.servers, pytest.mark.timeout(300)]

TOKEN = "e2e-api-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "jenkins"


@pytest.fixture
def distributed(tmp_path: Path, kafka_bootstrap: str, mongo_uri: str) -> Iterator[Distributed]:
    system = Distributed(tmp_path / "distributed", kafka_bootstrap, mongo_uri)
    system.env["METRICSYNC_API_TOKEN"] = TOKEN
    yield system
    system.close()


def jenkins_ce(ce_type: str, body: bytes) -> Request:
    auth = base64.b64encode(f"jenkins:{JENKINS_TOKEN}".encode()).decode()
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Basic {auth}",
        "ce-type": ce_type,
        "ce-source": "job/test2",
        "ce-id": "00feb6d9-400a-4b4d-b661-ab68a563179e",
        "ce-specversion": "1.0",
    }
    return Request("/webhooks/jenkins", headers, body)


def get(system: Distributed, path: str, **params: str) -> httpx.Response:
    return httpx.get(system.base + path, params=params, headers=AUTH, timeout=15)


def replay(system: Distributed, *args: str) -> tuple[int, str]:
    process = system.run(["replay-dead-letters", "--distributed", *args])
    code = process.proc.wait(120)
    return code, process.log_path.read_text()


def test_dead_letters_listed_fetched_and_replayed_once(distributed: Distributed) -> None:
    distributed.start()
    requests = scenario.requests()
    broken = orjson.loads(requests[6].body)  # a Jenkins COMPLETED notification of acme/pay
    broken["build"]["phase"] = "EXPLODED"  # no mapper knows the phase: a dead letter, whatever the rules
    exploded = Request(requests[6].path, requests[6].headers, orjson.dumps(broken))
    # A CloudEvents item event (job.created; no real one is in the fixtures: the README's run example
    # without its `build`, edited). Versions before the fix dead-lettered it ("build is missing").
    item = orjson.loads((FIXTURES / "cloudevents__job_started__readme.json").read_bytes())
    del item["build"]
    created = jenkins_ce("org.jenkinsci.job.created", orjson.dumps(item))
    answered = distributed.post(created)
    assert answered.status_code == 202
    assert answered.json()["status"] == "ignored"
    item_id = answered.json()["delivery_id"]
    assert distributed.post(exploded).status_code == 202
    for request in requests:
        assert distributed.post(request).status_code == 202
    wait_until(
        "the scenario's metrics",
        lambda: scenario.mismatches("", get(distributed, "/api/v1/dora", **scenario.WINDOW).json()) == [],
        timeout=60,
    )
    assert httpx.get(distributed.base + "/api/v1/dead-letters", timeout=10).status_code == 401

    listed = get(distributed, "/api/v1/dead-letters").json()
    assert listed["total"] == 1  # the item event is ignored by the normalizer too: no dead letter
    letter = listed["dead_letters"][0]
    assert letter["source"] == "jenkins"
    assert "phase" in letter["error"]
    assert isinstance(letter["offset"], int)
    assert isinstance(letter["partition"], int)
    assert "body_b64" not in letter

    # what an older normalizer left for the item event (the shape it wrote, the Kafka offset unknown)
    client: MongoClient[dict[str, object]] = MongoClient(distributed.mongo_uri)
    try:
        client[distributed.prefix]["dead_letters"].insert_one(
            {
                "_id": item_id,
                "source": "jenkins",
                "event_type": "org.jenkinsci.job.created",
                "error": "jenkins delivery: field 'build' is missing",
                "topic": distributed.env["METRICSYNC_RAW_TOPIC"],
                "partition": 0,
                "offset": None,
                "received_at": datetime(2026, 1, 1, tzinfo=UTC).isoformat(),
                "body_b64": base64.b64encode(orjson.dumps(item)).decode(),
                "at": datetime(2026, 1, 1, tzinfo=UTC).isoformat(),
            }
        )
    finally:
        client.close()

    first = get(distributed, "/api/v1/dead-letters", limit="1")
    page = first.json()
    assert (page["total"], len(page["dead_letters"])) == (2, 1)
    assert page["dead_letters"][0]["id"] == item_id  # oldest first: dead-lettered in January
    assert first.headers["link"] == f'<{page["next"]}>; rel="next"'
    second = httpx.get(distributed.base + page["next"], headers=AUTH, timeout=15).json()
    assert (second["next"], [d["id"] for d in second["dead_letters"]]) == (None, [letter["id"]])
    assert get(distributed, "/api/v1/dead-letters", offset="1").json()["error"] == "unknown_parameter"
    exported = get(distributed, "/api/v1/dead-letters", format="csv")
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["id"], r["offset"]) for r in rows] == [(item_id, ""), (letter["id"], str(letter["offset"]))]
    assert get(distributed, "/api/v1/dead-letters", error="PHASE").json()["total"] == 1
    assert get(distributed, "/api/v1/dead-letters", source="github").json()["total"] == 0
    assert get(distributed, "/api/v1/dead-letters", since="2026-06-01T00:00:00Z").json()["total"] == 1
    assert get(distributed, "/api/v1/dead-letters", state="bogus").status_code == 400
    fetched = get(distributed, f"/api/v1/dead-letters/{letter['id']}").json()
    assert orjson.loads(base64.b64decode(fetched["body_b64"]))["build"]["phase"] == "EXPLODED"
    assert get(distributed, "/api/v1/dead-letters/nope").status_code == 404

    before = get(distributed, "/api/v1/dora", **scenario.WINDOW).json()
    status_before = get(distributed, "/api/v1/status").json()
    code, said = replay(distributed, "--all")
    assert code == 1, said  # one still fails
    assert "replayed 1 dead letters (0 events), 1 still failing, 0 not replayable" in said, said
    code, said = replay(distributed, "--all")
    assert "replayed 0 dead letters (0 events), 1 still failing, 0 not replayable" in said, said
    code, said = replay(distributed, "--id", item_id)
    assert code == 0
    assert "nothing to replay" in said, said
    after = get(distributed, "/api/v1/dead-letters", state="replayed").json()
    assert [d["id"] for d in after["dead_letters"]] == [item_id]
    assert after["dead_letters"][0]["replayed_events"] == 0
    still = get(distributed, f"/api/v1/dead-letters/{letter['id']}").json()
    assert "phase" in still["last_replay_error"]
    assert get(distributed, "/api/v1/dora", **scenario.WINDOW).json() == before
    status_after = get(distributed, "/api/v1/status").json()
    assert status_after["dead_letters"] == status_before["dead_letters"] - 1  # the open ones
    assert {k: v for k, v in status_after.items() if k not in ("as_of", "dead_letters")} == {
        k: v for k, v in status_before.items() if k not in ("as_of", "dead_letters")
    }
