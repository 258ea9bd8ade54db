"""Spool slots: one per ingest process under METRICSYNC_SPOOL_DIR, claimed with a file lock;
orphaned slots (and the pre-slot spool) are claimed by whoever can lock them, to be drained."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from metricsync.kafka.spool import Spool, claim_orphans, claim_own_spool, slot_directory

HOLD_SLOT = textwrap.dedent(
    """
    import asyncio
    import sys
    from pathlib import Path
    from metricsync.kafka.spool import claim_own_spool
    spool = claim_own_spool(Path(sys.argv[1]), 10_000)
    asyncio.run(spool.append(b"held by a living process"))
    print(spool.directory.name, flush=True)
    sys.stdin.read()
    """
)


@pytest.fixture
def other_process(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lowest free slot under tmp_path, with a record in it, until the test ends."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_SLOT, str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "worker-0"
    yield proc
    proc.communicate(timeout=10)


async def spool_with_records(directory: Path, *records: bytes) -> None:
    spool = Spool(directory, 10_000)
    for record in records:
        await spool.append(record)
    spool.close()


def test_each_claim_gets_its_own_slot_and_a_released_slot_is_reused(tmp_path: Path) -> None:
    first = claim_own_spool(tmp_path, 10_000)
    second = claim_own_spool(tmp_path, 10_000)
    assert (first.directory.name, second.directory.name) == ("worker-0", "worker-1")

    first.close()
    again = claim_own_spool(tmp_path, 10_000)
    assert again.directory.name == "worker-0"
    again.close()
    second.close()


def test_a_slot_held_by_another_process_is_skipped(tmp_path: Path, other_process: subprocess.Popen[str]) -> None:
    mine = claim_own_spool(tmp_path, 10_000)
    assert mine.directory.name == "worker-1"
    assert claim_orphans(tmp_path, 10_000, exclude=mine.directory) == []
    mine.close()


async def test_orphans_with_records_are_claimed_once(tmp_path: Path) -> None:
    await spool_with_records(slot_directory(tmp_path, 3), b"left by worker 3")  # N shrank from 4
    await spool_with_records(tmp_path, b"pre-slot layout")
    slot_directory(tmp_path, 2).mkdir()  # an empty slot: nothing to drain
    mine = claim_own_spool(tmp_path, 10_000)

    orphans = claim_orphans(tmp_path, 10_000, exclude=mine.directory)
    assert [o.directory for o in orphans] == [tmp_path, slot_directory(tmp_path, 3)]  # oldest layout first
    assert [[p for _, p in await o.read_pending(10)] for o in orphans] == [[b"pre-slot layout"], [b"left by worker 3"]]
    assert claim_orphans(tmp_path, 10_000, exclude=mine.directory) == []  # locked by this claim

    for orphan in orphans:
        records = await orphan.read_pending(10)
        await orphan.mark_drained(records[-1][0])
        orphan.close()
    assert claim_orphans(tmp_path, 10_000, exclude=mine.directory) == []  # drained: nothing left
    mine.close()


async def test_a_living_processs_spool_is_never_claimed_as_an_orphan(
    tmp_path: Path, other_process: subprocess.Popen[str]
) -> None:
    await spool_with_records(slot_directory(tmp_path, 5), b"orphan")
    orphans = claim_orphans(tmp_path, 10_000)
    assert (slot_directory(tmp_path, 0) / "spool.log").stat().st_size > 0
    assert [o.directory.name for o in orphans] == ["worker-5"]  # worker-0 has records but a living owner
    for orphan in orphans:
        orphan.close()
