"""`metricsync replay-dead-letters` in embedded mode: with `serve` stopped, a letter that maps now is
dropped with its events stored, one that still fails keeps its place; replaying twice changes nothing."""

from __future__ import annotations

import sqlite3
import subprocess

import orjson
import pytest

from metricsync.embedded.datadir import db_path
from tests.support import scenario
from tests.support.embedded import Embedded
from tests.support.process import METRICSYNC, wait_until
from tests.support.webhooks import Request

pytestmark = pytest.mark.e2e


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
        conn.execute("INSERT INTO dead_letters VALUES (?, ?, ?)", (seq, delivery_id, "an older mapper failed"))
    first = replay(embedded, "--all")
    assert first.returncode == 1, first.stderr  # one still fails
    assert "replayed 1 dead letters" in first.stderr
    assert "1 still failing" in first.stderr
    again = replay(embedded, "--all")
    assert "replayed 0 dead letters (0 events), 1 still failing" in again.stderr, again.stderr
    with sqlite3.connect(db_path(embedded.data_dir)) as conn:
        rows = conn.execute("SELECT error FROM dead_letters").fetchall()
    assert len(rows) == 1
    assert "phase" in rows[0][0]
    embedded.start()
    wait_until("the pipeline to catch up", embedded.caught_up)
    assert embedded.dora() == before  # its events were stored already: nothing counted twice
