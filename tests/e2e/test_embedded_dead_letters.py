"""Dead letters in embedded mode: `GET /api/v1/dead-letters` lists, pages, exports and fetches them from
the SQLite store behind the API token; `metricsync replay-dead-letters` (with `serve` stopped) marks a
letter that maps now replayed with its events stored, one that still fails stays open with the error
of that replay; replaying twice changes nothing."""

from __future__ import annotations

import base64
import csv
import io
import sqlite3
import subprocess
from pathlib import Path

import httpx
import orjson
import pytest

from metricsync.embedded.datadir import db_path
from tests.support import scenario
from tests.support.embedded import Embedded
from tests.support.process import METRICSYNC, wait_until
from tests.support.webhooks import Request

pytestmark = pytest.mark.e2e

TOKEN = "embedded-api-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def replay(embedded: Embedded, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"METRICSYNC_DATA_DIR": str(embedded.data_dir)}
    return subprocess.run(
        [METRICSYNC, "replay-dead-letters", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_replay_in_embedded_mode_resolves_what_maps_and_keeps_what_does_not(embedded: Embedded) -> None:
    requests = scenario.requests()
    broken = orjson.loads(requests[6].body)
    broken["build"]["phase"] = "EXPLODED"  # no mapper knows the phase
    assert embedded.post(Request(requests[6].path, requests[6].headers, orjson.dumps(broken))).status_code == 202
    for request in requests:
        assert embedded.post(request).status_code == 202
    wait_until("the pipeline to catch up", embedded.caught_up)
    before = embedded.dora()
    assert replay(embedded, "--all").returncode == 2  # serve holds the data directory
    embedded.stop()

    # a letter left for a delivery that maps now (as an older version's mapping error would have)
    with sqlite3.connect(db_path(embedded.data_dir)) as conn:
        seq, delivery_id = conn.execute(
            "SELECT seq, delivery_id FROM raw_deliveries WHERE seq NOT IN (SELECT raw_seq FROM dead_letters) "
            "ORDER BY seq LIMIT 1"
        ).fetchone()
        conn.execute(  # as an older version wrote it: no `at`
            "INSERT INTO dead_letters (raw_seq, delivery_id, error) VALUES (?, ?, ?)",
            (seq, delivery_id, "an older mapper failed"),
        )
    first = replay(embedded, "--all")
    assert first.returncode == 1, first.stderr  # one still fails
    assert "replayed 1 dead letters" in first.stderr
    assert "1 still failing" in first.stderr
    again = replay(embedded, "--all")
    assert "replayed 0 dead letters (0 events), 1 still failing" in again.stderr, again.stderr
    embedded.start()
    wait_until("the pipeline to catch up", embedded.caught_up)
    assert embedded.dora() == before  # its events were stored already: nothing counted twice

    # as in distributed mode: the replayed letter is listed as such, the failing one stays open
    def listed(state: str) -> list[dict[str, object]]:
        answer = httpx.get(f"{embedded.base}/api/v1/dead-letters", params={"state": state}, timeout=10)
        assert answer.status_code == 200, answer.text
        letters: list[dict[str, object]] = answer.json()["dead_letters"]
        return letters

    (replayed,) = listed("replayed")
    assert (replayed["id"], replayed["error"]) == (delivery_id, "an older mapper failed")
    assert isinstance(replayed["replayed_events"], int)
    assert replayed["replayed_at"] is not None
    (still,) = listed("open")
    assert "phase" in str(still["error"])  # the first error stays
    assert "phase" in str(still["last_replay_error"])
    assert still["replayed_at"] is None
    assert {str(letter["id"]) for letter in listed("all")} == {replayed["id"], still["id"]}
    status = httpx.get(f"{embedded.base}/api/v1/status", timeout=10).json()
    assert status["dead_letters"] == 1  # the open ones


def test_dead_letters_are_listed_paged_exported_and_fetched_in_embedded_mode(tmp_path: Path) -> None:
    server = Embedded(tmp_path)
    server.extra_env["METRICSYNC_API_TOKEN"] = TOKEN
    server.start()

    def get(path: str, **params: str) -> httpx.Response:
        return httpx.get(server.base + path, params=params, headers=AUTH, timeout=10)

    try:
        requests = scenario.requests()
        bodies = []
        for phase in ("EXPLODED", "IMPLODED"):  # no mapper knows these phases
            broken = orjson.loads(requests[6].body)
            broken["build"]["phase"] = phase
            bodies.append(orjson.dumps(broken))
            answer = server.post(Request(requests[6].path, requests[6].headers, bodies[-1]))
            assert answer.status_code == 202, answer.text
        for request in requests:
            assert server.post(request).status_code == 202
        wait_until("the pipeline to catch up", lambda: bool(get("/api/v1/status").json().get("caught_up")))
        assert httpx.get(server.base + "/api/v1/dead-letters", timeout=10).status_code == 401

        first = get("/api/v1/dead-letters", limit="1")
        page = first.json()
        assert (page["total"], page["limit"], len(page["dead_letters"])) == (2, 1, 1)
        assert first.headers["link"] == f'<{page["next"]}>; rel="next"'
        letter = page["dead_letters"][0]
        assert (letter["source"], letter["topic"], letter["partition"], letter["offset"]) == (
            "jenkins",
            None,
            None,
            None,
        )
        assert "phase" in letter["error"]
        assert letter["at"] is not None
        assert "body_b64" not in letter
        second = httpx.get(server.base + page["next"], headers=AUTH, timeout=10).json()
        assert second["next"] is None
        ids = [letter["id"], second["dead_letters"][0]["id"]]
        assert len(set(ids)) == 2

        exported = get("/api/v1/dead-letters", body="true", format="csv")
        assert exported.headers["content-type"] == "text/csv; charset=utf-8"
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert [r["id"] for r in rows] == ids
        assert sorted(base64.b64decode(r["body_b64"]) for r in rows) == sorted(bodies)
        assert rows[0]["offset"] == ""

        (imploded,) = get("/api/v1/dead-letters", error="imploded").json()["dead_letters"]
        fetched = get(f"/api/v1/dead-letters/{imploded['id']}").json()
        assert base64.b64decode(fetched["body_b64"]) == bodies[1]
        assert fetched["body_bytes"] == len(bodies[1])
        assert get("/api/v1/dead-letters", state="replayed").json()["total"] == 0
        assert get("/api/v1/dead-letters/nope").status_code == 404
        assert get("/api/v1/dead-letters", cursor="nonsense").json()["error"] == "bad_cursor"
    finally:
        server.stop()
