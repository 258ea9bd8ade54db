"""`metricsync import github --distributed`: the history published to the raw topic of the real Kafka,
taken by real normalizer and worker processes, then the last week's webhooks through ingest: the
figures equal those of the webhooks alone in embedded mode (tests/support/github_history.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient
from pytest_httpserver import HTTPServer

from tests.support.distributed import Distributed
from tests.support.embedded import Embedded
from tests.support.github_history import LAST_WEEK, REPO, build_history, figures, run_import, serve_api
from tests.support.process import wait_until
from tests.support.webhooks import github_push, sha_of

pytestmark = [pytest.mark.servers, pytest.mark.timeout(300)]


@pytest.fixture
def distributed(tmp_path: Path, kafka_bootstrap: str, mongo_uri: str) -> Iterator[Distributed]:
    system = Distributed(tmp_path / "distributed", kafka_bootstrap, mongo_uri)
    yield system
    system.close()


def test_a_month_imported_into_kafka_then_webhooks_equal_embedded_webhooks_alone(
    tmp_path: Path, httpserver: HTTPServer, distributed: Distributed
) -> None:
    history = build_history()
    reference = Embedded(tmp_path / "reference")
    reference.start()
    try:
        for request in history.webhooks():
            assert reference.post(request).status_code == 202
        wait_until("the reference to catch up", reference.caught_up)
        want = figures(reference.base)
    finally:
        reference.stop()

    serve_api(httpserver, history)
    distributed.start()
    env = {**distributed.env, "METRICSYNC_IMPORT_STATE_DIR": str(tmp_path / "import-state")}
    out = run_import(httpserver, ["--distributed"], env)
    assert "20 deployment statuses" in out
    for request in history.webhooks(since=LAST_WEEK):
        assert distributed.post(request).status_code == 202
    try:
        wait_until("distributed figures to equal the reference", lambda: figures(distributed.base) == want, timeout=90)
    except AssertionError:
        raise AssertionError(f"want {want}\ngot {figures(distributed.base)}\n{distributed.logs()}") from None
    again = run_import(httpserver, ["--distributed"], env)
    assert "20 deployment statuses" in again  # read and published again: the normalizer keeps them once
    # a re-push of a known commit after them on the repository's partition: once the normalizer stored
    # it, it has taken every record published before it, and their events were all duplicates
    sentinel = github_push(REPO, sha_of("root"), history.commits[:1])
    assert distributed.post(sentinel).status_code == 202
    delivery_id = sentinel.headers["X-GitHub-Delivery"]
    wait_until("the normalizer to pass the re-imported records", lambda: stored(distributed, delivery_id), timeout=60)
    assert figures(distributed.base) == want


def stored(system: Distributed, delivery_id: str) -> bool:
    async def find() -> bool:
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(system.mongo_uri)
        try:
            return await client[system.prefix]["raw_deliveries"].find_one({"_id": delivery_id}) is not None
        finally:
            await client.close()

    return asyncio.run(find())
