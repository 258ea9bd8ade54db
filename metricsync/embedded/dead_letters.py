"""`metricsync replay-dead-letters` in embedded mode: map the selected dead letters of the data
directory again with the current rules. It holds the data directory's lock, so `serve` is stopped
meanwhile (like `rebuild`); the events stored here are loaded when `serve` starts again. As in
distributed mode: a letter that maps now is marked replayed (`replayed_at`, `replayed_events`) with its
events stored (one transaction) and is listed under `state=replayed`; one that still fails stays open
with `last_replay_error`; replayed letters are not replayed again, so a second replay changes nothing.
`--since` selects by when a letter was dead-lettered (`at`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TextIO

from metricsync.embedded.datadir import DataDirLock, db_path
from metricsync.embedded.sqlite_store import SqliteStore
from metricsync.settings import Settings
from normalizer.mapping import map_or_error

SCAN = 100_000  # dead letters looked at per replay (a data directory holds far fewer)


async def replay_embedded(
    settings: Settings, ids: tuple[str, ...], since: datetime | None, everything: bool, out: TextIO
) -> int:
    with DataDirLock(settings.data_dir):
        store = await SqliteStore.open(db_path(settings.data_dir))
        try:
            rules = settings.mapping_rules()
            replayed = events = failing = 0
            for letter in await store.dead_letters(SCAN):
                if not everything and ids and letter.delivery_id not in ids:
                    continue
                rows = await store.raw_after(letter.raw_seq - 1, 1)
                if not rows or rows[0].seq != letter.raw_seq:
                    continue
                delivery = rows[0].delivery
                if not everything and since is not None and _dead_lettered(letter.at, delivery.received_at) < since:
                    continue
                mapped, error = map_or_error(delivery, rules)
                if error is not None:
                    failing += 1
                    await store.resolve_dead_letter(letter.raw_seq, None, error)
                    print(f"  {letter.delivery_id}: still failing: {error}", file=out)
                    continue
                await store.resolve_dead_letter(letter.raw_seq, mapped)
                replayed += 1
                events += len(mapped)
            if not (replayed or failing):
                print("nothing to replay (no dead letter matches)", file=out)
                return 0
            print(f"replayed {replayed} dead letters ({events} events), {failing} still failing", file=out)
            return 0 if failing == 0 else 1
        finally:
            await store.close()


def _dead_lettered(at: str, received_at: datetime) -> datetime:
    """When a letter was dead-lettered (its delivery's receipt for letters of stores older than `at`)."""
    if not at:
        return received_at
    moment = datetime.fromisoformat(at)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
