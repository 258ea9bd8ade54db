"""`metricsync simulate` counts every answer and says how to resume, also when it aborts."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from metricsync.settings import Settings
from metricsync.simulation.send import _answer, run_simulation, tally_line
from metricsync.simulation.sources import planned_webhooks
from metricsync.simulation.team import SimulationPlan
from schemas.errors import MetricSyncError
from tests.support.process import free_port


@pytest.mark.parametrize(
    ("status", "body", "answer"),
    [
        pytest.param(202, b'{"status":"accepted","delivery_id":"a"}', "accepted", id="accepted"),
        pytest.param(202, b'{"status":"duplicate","delivery_id":"a"}', "duplicate", id="duplicate"),
        pytest.param(202, b'{"status":"ignored","delivery_id":"a"}', "ignored", id="ignored"),
        pytest.param(400, b'{"error":"bad"}', "refused", id="refused"),
        pytest.param(503, b"spool full", "failed", id="failed"),
    ],
)
def test_each_answer_is_counted_as_what_it_is(status: int, body: bytes, answer: str) -> None:
    assert _answer(status, body) == answer


def test_the_tally_line_names_every_count() -> None:
    line = tally_line({"accepted": 7, "duplicate": 2, "ignored": 1, "refused": 3})
    assert line == "acknowledged 10 (accepted 7, duplicate 2, ignored 1), refused 3, failed 0"


def test_an_aborted_run_prints_its_tally_and_the_command_that_resumes_it() -> None:
    out = io.StringIO()
    as_of = datetime(2026, 3, 20, 18, 0, tzinfo=UTC)
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens: the first webhook fails
    with pytest.raises(MetricSyncError, match="cannot reach"):
        run_simulation(url, SimulationPlan(days=2, services=1), Settings(), out, resume_from=3, as_of=as_of)
    text = out.getvalue()
    assert "as of 2026-03-20T18:00:00Z" in text
    assert "acknowledged 0 (accepted 0, duplicate 0, ignored 0), refused 0, failed 1" in text
    total = len(planned_webhooks(SimulationPlan(days=2, services=1), as_of))
    assert f"stopped after 3/{total}; resume with: metricsync simulate --url {url}" in text
    assert "--as-of 2026-03-20T18:00:00Z --resume-from 3" in text


def test_the_same_as_of_gives_the_same_webhooks() -> None:
    as_of = datetime(2026, 3, 20, 18, 0, tzinfo=UTC)
    first = planned_webhooks(SimulationPlan(days=3, services=2), as_of)
    again = planned_webhooks(SimulationPlan(days=3, services=2), as_of)
    assert [h.body for h in first] == [h.body for h in again]
