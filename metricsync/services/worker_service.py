"""`metricsync worker`: events topic -> incremental metric state in MongoDB -> snapshots on the metrics topic.

The events topic is keyed by service, so each service lives on one partition and one worker owns
it. The state follows the service, not the partition: the first time a batch holds events of a
service the worker has not loaded, it loads that service's stored state (one query per batch),
whatever partition wrote it last (after a repartition a service's events move to another partition),
into one MetricEngine, and publishes a snapshot per changed service after each batch. Events already
applied (their id is in the service's state) are skipped. At checkpoints
(every METRICSYNC_WORKER_CHECKPOINT_INTERVAL, when idle, on rebalance and on stop) it appends to each
changed service's state log (metricsync/mongo/state_log.py) the events applied since the last checkpoint,
or a new base when those have grown as large as the last one, each document with the offset of the
last event applied (no transaction needed), waits for the snapshots published since to be
acknowledged, then commits the Kafka offsets. A checkpoint runs beside the polls (what it writes is
taken when it starts; one at a time), so the worker keeps applying events and publishing snapshots
while MongoDB writes; when idle, on rebalance and on stop it is waited for. A replay after a crash
or a rebalance finds events at or below the stored offset and skips them, and re-applies the rest
to the stored state: nothing is lost or counted twice.

Two writers of one service (a worker that lost a partition without noticing, or a repartition that
left a service's older events on its former partition): the state log's `_id` (service#seq) is a
compare-and-set. The writer whose document collides loads the log as the other wrote it, applies its
own events since its last write on top (events are deduplicated by id, so the result is the union),
publishes the merged snapshot and writes again at the next seq; it commits no offsets until then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from aiokafka import ConsumerRebalanceListener, TopicPartition
from pydantic import ValidationError

from metrics_worker.documents import service_snapshot
from metrics_worker.engine import MetricEngine
from metricsync import pruning
from metricsync.engine_batch import apply_batch
from metricsync.kafka.consumer import ConsumerServiceBase
from metricsync.mongo.state_log import Cursor, Doc, base_doc, delta_doc, doc_id, restore
from metricsync.mongo.store import MongoStore, StateConflict
from metricsync.settings import Settings
from metricsync.telemetry.pipeline import NO_PIPELINE_METRICS, PipelineObserver
from schemas.events import UnifiedEvent, event_from_json

log = logging.getLogger(__name__)

MAX_CHECKPOINT_ROUNDS = 5  # checkpoint(): rounds while documents collide with another writer's
CHECKPOINT_SPACING = 4.0  # the next checkpoint no sooner than this many times the last one's duration
GARBAGE_BATCH = 1000  # superseded state documents deleted together (one collection scan on FerretDB)


class Move(NamedTuple):
    """A state document's cursor move, applied once the document is written."""

    cursor: Cursor
    base: bool
    seq: int
    events: int
    rebases_asked: int  # when the document was built (a base covers the rebases asked before it)
    service: str
    applied: tuple[int, int]  # (partition, offset) of the last event the document holds
    raw: list[bytes]  # the events applied since the last document: applied again after a collision
    garbage: list[str]  # documents a base supersedes: deleted once it is written


class _ResetOnRebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, worker: WorkerService) -> None:
        self.worker = worker

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        try:
            if revoked:
                log.info("partitions revoked %s", sorted(tp.partition for tp in revoked))
                await self.worker.checkpoint(collect=True)  # hand over stored state and committed offsets
            else:
                await self.worker.finish_checkpoint()  # its cursors belong to the state reset drops
        except Exception as e:  # Kafka or MongoDB away: the next owner replays what was not committed
            log.warning(
                "checkpoint before the rebalance failed (%s: %s); uncommitted events will be replayed",
                type(e).__name__,
                e,
            )
        finally:
            self.worker.reset()

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        log.info("partitions assigned %s", sorted(tp.partition for tp in assigned))
        self.worker.reset()
        self.worker.rebalanced()


class WorkerService(ConsumerServiceBase):
    name = "worker"
    poll_timeout_ms = 100
    max_records = 5000

    def __init__(
        self,
        settings: Settings,
        store: MongoStore,
        clock: Callable[[], datetime],
        observer: PipelineObserver = NO_PIPELINE_METRICS,
    ) -> None:
        super().__init__(settings, settings.events_topic, settings.worker_group)
        self.store = store
        self.clock = clock
        self.observer = observer  # /metrics: events applied, snapshot latency, checkpoint duration
        self.engine = MetricEngine(settings.engine_config())
        self.applied: dict[str, tuple[int, int]] = {}  # service -> (partition, offset) last applied
        self.dirty: dict[str, tuple[int, int]] = {}  # applied since the last checkpoint
        self.pending: dict[str, list[bytes]] = {}  # service -> events (JSON) applied since the last checkpoint
        self.cursors: dict[str, Cursor] = {}  # service -> where its state log stands
        self.known: set[str] = set()  # services whose stored state is loaded (or found absent)
        self.conflicts: list[Move] = []  # documents another writer wrote first: merged, written again
        self.conflicts_merged = 0
        self.garbage: list[str] = []  # state documents superseded by a newer base
        self.uncommitted: dict[TopicPartition, int] = {}  # offsets to commit at the next checkpoint
        self.unacked: list[asyncio.Future[Any]] = []  # snapshot sends the next checkpoint waits for
        self.checkpointing: asyncio.Task[None] | None = None  # the checkpoint in flight
        self.checkpoint_seconds = settings.worker_checkpoint_interval.total_seconds()
        self.checkpoint_gap = self.checkpoint_seconds  # grows when checkpoints get slow (see checkpoint)
        self.last_checkpoint = time.monotonic()
        self.pruning = pruning.PruneSchedule()
        self.events_applied = 0
        self.events_skipped = 0

    def reset(self) -> None:
        """Forget all state (it is in MongoDB); reload services as their events arrive."""
        self.engine = MetricEngine(self.settings.engine_config())
        self.applied.clear()
        self.dirty.clear()
        self.pending.clear()
        self.cursors.clear()
        self.known.clear()
        self.conflicts.clear()
        self.garbage.clear()
        self.uncommitted.clear()
        self.unacked.clear()

    def rebalance_listener(self) -> ConsumerRebalanceListener:
        return _ResetOnRebalance(self)

    async def on_idle(self) -> None:
        await self.checkpoint()  # idle: make everything durable now (nothing to do: returns at once)

    async def on_stop(self) -> None:
        await self.checkpoint(collect=True)

    async def abandon(self) -> None:
        """A transient failure: drop the checkpoint in flight and everything not committed; the state
        is reloaded from MongoDB and the events since the committed offsets are applied again."""
        task, self.checkpointing = self.checkpointing, None
        if task is not None and not task.done():
            task.cancel()
        if task is not None:
            with contextlib.suppress(BaseException):
                await task
        self.reset()

    async def process(self, tp: TopicPartition, records: Sequence[Any]) -> None:
        await self.process_batches({tp: records})

    async def process_batches(self, batches: Mapping[TopicPartition, Sequence[Any]]) -> None:
        """All partitions of one poll together: one state load for newly assigned partitions, one
        round of snapshots for every changed service."""
        started = time.perf_counter()
        self._check_checkpoint()  # a failed checkpoint stops here: nothing after it is committed
        await self._merge_conflicts()
        decoded: dict[TopicPartition, list[tuple[int, UnifiedEvent, bytes]]] = {}
        for tp, records in batches.items():
            decoded[tp] = []
            for record in records:
                try:
                    decoded[tp].append((record.offset, event_from_json(record.value), record.value))
                except (ValidationError, ValueError) as e:
                    log.error("undecodable event partition=%d offset=%d error=%s", tp.partition, record.offset, e)
        await self._load({event.service for events in decoded.values() for _, event, _ in events} - self.known)
        to_apply: list[UnifiedEvent] = []
        queued: set[tuple[str, str]] = set()  # (service, id) in to_apply: a copy on another partition is a replay
        for tp, records in batches.items():
            applying = len(to_apply)
            last: dict[str, int] = {}
            for offset, event, raw in decoded[tp]:
                key = (event.service, event.id)
                if key in queued or self.engine.knows(event):  # applied before (a replay, or another writer's)
                    self.events_skipped += 1
                    continue
                queued.add(key)
                to_apply.append(event)
                last[event.service] = offset
                pending = self.pending.get(event.service)
                if pending is None:
                    pending = self.pending[event.service] = []
                pending.append(raw)
            for service, offset in last.items():
                self.applied[service] = (tp.partition, offset)
                self.dirty[service] = (tp.partition, offset)
            self.uncommitted[tp] = records[-1].offset + 1
            applying = len(to_apply) - applying
            self.events_applied += applying
            log.debug(
                "applying partition=%d offset=%d events=%d skipped=%d services=%d",
                tp.partition,
                records[-1].offset,
                applying,
                len(decoded[tp]) - applying,
                len(last),
            )
        # A failure here leaves the engine partly updated, and nothing after the last checkpoint is
        # committed: a transient one abandons the state (`abandon`), anything else stops the worker; either
        # way the stored state is reloaded and the events since the committed offsets are applied again.
        applied = apply_batch(self.engine, to_apply, self.clock, self.pruning)
        self._pruned(applied.pruned)
        await self._publish(applied.snapshots)
        self.observer.applied(to_apply, applied.snapshot_at)
        if self.checkpointing is None and time.monotonic() - self.last_checkpoint >= self.checkpoint_gap:
            self._start_checkpoint()
        log.debug("batch partitions=%d ms=%.1f", len(batches), (time.perf_counter() - started) * 1000)

    def _pruned(self, pruned: frozenset[str]) -> None:
        """Services rebuilt without history that left the retention: their next state document is a
        base (its deltas could not express the dropped facts)."""
        for service in pruned:
            applied = self.applied.get(service)
            if applied is None:  # not from this worker's partitions: nothing of it to store
                continue
            self.pending.pop(service, None)
            self.dirty[service] = applied
            cursor = self.cursors.get(service) or Cursor()
            cursor.want_base()
            self.cursors[service] = cursor

    async def checkpoint(self, collect: bool = False) -> None:
        """Make everything applied so far durable and committed, now (idle, rebalance, stop): wait for
        the checkpoint in flight, then write one more. Superseded documents: all of them with
        `collect`, else in batches of GARBAGE_BATCH."""
        await self.finish_checkpoint()
        for _ in range(MAX_CHECKPOINT_ROUNDS):  # another round only when documents collided
            if not (self.dirty or self.uncommitted or self.unacked or (collect and self.garbage)):
                return
            self._start_checkpoint(collect)
            await self.finish_checkpoint()

    async def finish_checkpoint(self) -> None:
        """Wait for the checkpoint in flight; its error, if it failed, is raised here."""
        task = self.checkpointing
        if task is not None:
            await asyncio.wait([task])
        self._check_checkpoint()
        await self._merge_conflicts()

    def _check_checkpoint(self) -> None:
        task = self.checkpointing
        if task is not None and task.done():
            self.checkpointing = None
            task.result()

    def _start_checkpoint(self, collect: bool = False) -> None:
        """Start a checkpoint that runs beside the polls: what it writes is taken now.

        It appends to the state log of every service changed since the last checkpoint (its new
        events, or a new base), each document with the offset of the last event applied; deletes
        superseded documents; waits for the snapshots published since to be acknowledged; then
        commits the partitions' offsets. A crash between two checkpoints replays from the committed
        offsets; events at or below a stored offset are skipped, the rest re-applied to the stored
        state, so the result is the same. One checkpoint at a time: the next one's documents follow
        the state log cursors this one moves."""
        docs, moves = self._state_docs()
        garbage: list[str] = []
        if self.garbage and (collect or len(self.garbage) >= GARBAGE_BATCH):
            garbage, self.garbage = self.garbage, []
        sends, self.unacked = self.unacked, []
        offsets, self.uncommitted = dict(self.uncommitted), {}
        self.checkpointing = asyncio.create_task(self._write_checkpoint(docs, moves, garbage, sends, offsets))

    async def _write_checkpoint(
        self,
        docs: list[Doc],
        moves: list[Move],
        garbage: list[str],
        sends: list[asyncio.Future[Any]],
        offsets: dict[TopicPartition, int],
    ) -> None:
        started = time.monotonic()
        clashed: set[str] = set()
        if docs:
            try:
                await self.store.append_states(docs)
            except StateConflict as e:
                clashed = set(e.ids)
            for doc, move in zip(docs, moves, strict=True):
                if doc["_id"] in clashed:
                    self.conflicts.append(move)
                elif move.base:
                    move.cursor.wrote_base(move.seq, move.events, move.rebases_asked)
                    self.garbage.extend(move.garbage)
                else:
                    move.cursor.wrote_delta(move.seq, move.events)
        if garbage:
            await self.store.delete_states(garbage)
        await asyncio.gather(*sends)
        if offsets and clashed:  # those services' events are not stored yet: commit with the next round
            for tp, offset in offsets.items():
                self.uncommitted.setdefault(tp, offset)
        elif offsets:
            await self.kafka_consumer().commit(offsets)
            self.committed(offsets)
        self.last_checkpoint = time.monotonic()
        # A checkpoint writes what changed since the last one, but a new base costs a service's whole
        # state: keep checkpoints to at most a fifth of the time by spacing them 4x their duration.
        self.checkpoint_gap = max(self.checkpoint_seconds, CHECKPOINT_SPACING * (self.last_checkpoint - started))
        self.observer.checkpointed(self.last_checkpoint - started)
        log.debug(
            "checkpoint states=%d bases=%d deleted=%d snapshots=%d ms=%.1f",
            len(docs),
            sum(1 for move in moves if move.base),
            len(garbage),
            len(sends),
            (self.last_checkpoint - started) * 1000,
        )
        self.checkpointing = None

    def _state_docs(self) -> tuple[list[Doc], list[Move]]:
        """The state log documents of every service changed since the last checkpoint, and the cursor
        moves to apply once they are written; superseded documents join the garbage."""
        now = self.clock()
        docs: list[Doc] = []
        moves: list[Move] = []
        for service, (partition, offset) in self.dirty.items():
            cursor = self.cursors.get(service) or Cursor()
            self.cursors[service] = cursor
            events = self.pending.pop(service, [])
            seq = cursor.seq + 1
            applied = (partition, offset)
            if cursor.wants_base(len(events)):
                state = self.engine.export_service(service)
                count = len(state["seen"])
                docs.append(base_doc(service, seq, state, count, partition, offset, now))
                # the old base and its deltas, once this base is written
                old = [doc_id(service, old) for old in range(cursor.base_seq, seq)] if cursor.seq >= 0 else []
                moves.append(Move(cursor, True, seq, count, cursor.rebases_asked, service, applied, events, old))
            else:
                docs.append(delta_doc(service, seq, events, partition, offset, now))
                moves.append(Move(cursor, False, seq, len(events), cursor.rebases_asked, service, applied, events, []))
        self.dirty.clear()
        return docs, moves

    async def _load(self, services: set[str]) -> None:
        """Load the stored state of `services` (first seen by this worker since its last rebalance),
        whatever partition wrote it last."""
        if not services:
            return
        started = time.perf_counter()
        stored = await self.store.load_states(services=sorted(services))
        replayed = 0
        for service, state in stored.items():
            replayed += restore(self.engine, state)
            self.applied[service] = (state.partition, state.offset)
            self.cursors[service] = state.cursor
            self.garbage.extend(state.garbage)
        self.known.update(services)
        log.info(
            "state loaded services=%d stored=%d replayed_events=%d seconds=%.2f",
            len(services),
            len(stored),
            replayed,
            time.perf_counter() - started,
        )

    async def _merge_conflicts(self) -> None:
        """Documents another writer wrote first (see the module docstring): load the log as it is,
        apply this worker's events since its last write on top, and mark them to be written again."""
        moves, self.conflicts = self.conflicts, []
        if not moves:
            return
        stored = await self.store.load_states(services=sorted({m.service for m in moves}))
        for move in moves:
            service = move.service
            again = move.raw + self.pending.get(service, [])
            state = stored.get(service)
            if state is not None:
                restore(self.engine, state)
                self.cursors[service] = state.cursor
                self.garbage.extend(state.garbage)
            if again:
                self.engine.apply_many([event_from_json(raw) for raw in again])
            self.pending[service] = again
            self.dirty[service] = self.applied.get(service, move.applied)
            self.known.add(service)
        self.conflicts_merged += len(moves)
        log.warning(
            "state of %d services was written meanwhile by another worker (%s): merged, to be written again",
            len(moves),
            ",".join(sorted(m.service for m in moves)[:5]),
        )
        as_of = self.clock()
        await self._publish([(s, service_snapshot(self.engine, s, as_of)) for s in sorted({m.service for m in moves})])

    async def _publish(self, snapshots: list[tuple[str, bytes]]) -> None:
        if not snapshots:
            return
        producer = await self.ensure_producer()
        for service, snapshot in snapshots:  # acknowledged by the next checkpoint, before it commits offsets
            self.unacked.append(await producer.send(self.settings.metrics_topic, value=snapshot, key=service.encode()))
