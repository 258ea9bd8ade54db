"""`metricsync worker`: events topic -> incremental metric state in MongoDB -> snapshots on the metrics topic.

The events topic is keyed by service, so each service lives on one partition and one worker owns
it. When partitions are assigned the worker loads the stored state of their services (one query)
into one MetricEngine, and publishes a snapshot per changed service after each batch. At checkpoints
(every METRICSYNC_WORKER_CHECKPOINT_INTERVAL, when idle, on rebalance and on stop) it appends to each
changed service's state log (metricsync/mongo/state_log.py) the events applied since the last checkpoint,
or a new base when those have grown as large as the last one, each document with the offset of the
last event applied (no transaction needed), waits for the snapshots published since to be
acknowledged, then commits the Kafka offsets. A checkpoint runs beside the polls (what it writes is
taken when it starts; one at a time), so the worker keeps applying events and publishing snapshots
while MongoDB writes; when idle, on rebalance and on stop it is waited for. A replay after a crash
or a rebalance finds events at or below the stored offset and skips them, and re-applies the rest
to the stored state: nothing is lost or counted twice.
"""

from __future__ import annotations

import asyncio
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
from metricsync.kafka.consumer import ConsumerServiceBase
from metricsync.mongo.state_log import Cursor, Doc, base_doc, delta_doc, doc_id, restore
from metricsync.mongo.store import MongoStore
from metricsync.settings import Settings
from metricsync.telemetry.pipeline import NO_PIPELINE_METRICS, PipelineObserver
from schemas.events import UnifiedEvent, event_from_json

log = logging.getLogger(__name__)

CHECKPOINT_SPACING = 4.0  # the next checkpoint no sooner than this many times the last one's duration
GARBAGE_BATCH = 1000  # superseded state documents deleted together (one collection scan on FerretDB)


class Move(NamedTuple):
    """A state document's cursor move, applied once the document is written."""

    cursor: Cursor
    base: bool
    seq: int
    events: int
    rebases_asked: int  # when the document was built (a base covers the rebases asked before it)


class _ResetOnRebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, worker: WorkerService) -> None:
        self.worker = worker

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        if revoked:
            log.info("partitions revoked %s", sorted(tp.partition for tp in revoked))
            await self.worker.checkpoint(collect=True)  # hand over stored state and committed offsets
        else:
            await self.worker.finish_checkpoint()  # its cursors belong to the state reset drops
        self.worker.reset()

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        log.info("partitions assigned %s", sorted(tp.partition for tp in assigned))
        self.worker.reset()


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
        self.loaded: set[int] = set()  # partitions whose services' state is loaded
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
        self.loaded.clear()
        self.garbage.clear()
        self.uncommitted.clear()
        self.unacked.clear()

    def rebalance_listener(self) -> ConsumerRebalanceListener:
        return _ResetOnRebalance(self)

    async def on_idle(self) -> None:
        await self.checkpoint()  # idle: make everything durable now (nothing to do: returns at once)

    async def on_stop(self) -> None:
        await self.checkpoint(collect=True)

    async def process(self, tp: TopicPartition, records: Sequence[Any]) -> None:
        await self.process_batches({tp: records})

    async def process_batches(self, batches: Mapping[TopicPartition, Sequence[Any]]) -> None:
        """All partitions of one poll together: one state load for newly assigned partitions, one
        round of snapshots for every changed service."""
        started = time.perf_counter()
        self._check_checkpoint()  # a failed checkpoint stops the worker here: nothing after it is committed
        decoded: dict[TopicPartition, list[tuple[int, UnifiedEvent, bytes]]] = {}
        for tp, records in batches.items():
            decoded[tp] = []
            for record in records:
                try:
                    decoded[tp].append((record.offset, event_from_json(record.value), record.value))
                except (ValidationError, ValueError) as e:
                    log.error("undecodable event partition=%d offset=%d error=%s", tp.partition, record.offset, e)
        assigned = {tp.partition for tp in self.kafka_consumer().assignment() if tp.topic == self.topic}
        await self._load(sorted((assigned | {tp.partition for tp in batches}) - self.loaded))
        changed: set[str] = set()
        applied_now: list[UnifiedEvent] = []
        for tp, records in batches.items():
            to_apply: list[UnifiedEvent] = []
            last: dict[str, int] = {}
            for offset, event, raw in decoded[tp]:
                partition, applied_offset = self.applied.get(event.service, (tp.partition, -1))
                if partition == tp.partition and offset <= applied_offset:
                    self.events_skipped += 1
                    continue
                to_apply.append(event)
                last[event.service] = offset
                pending = self.pending.get(event.service)
                if pending is None:
                    pending = self.pending[event.service] = []
                pending.append(raw)
            changed |= self.engine.apply_many(to_apply)
            applied_now += to_apply
            for service, offset in last.items():
                self.applied[service] = (tp.partition, offset)
                self.dirty[service] = (tp.partition, offset)
            self.uncommitted[tp] = records[-1].offset + 1
            self.events_applied += len(to_apply)
            log.debug(
                "applied partition=%d offset=%d events=%d skipped=%d services=%d",
                tp.partition,
                records[-1].offset,
                len(to_apply),
                len(decoded[tp]) - len(to_apply),
                len(last),
            )
        await self._publish(frozenset(changed))
        self.observer.applied(applied_now, self.clock() if changed else None)
        if self.pruning.due():
            self.prune()
        if self.checkpointing is None and time.monotonic() - self.last_checkpoint >= self.checkpoint_gap:
            self._start_checkpoint()
        log.debug("batch partitions=%d ms=%.1f", len(batches), (time.perf_counter() - started) * 1000)

    def prune(self) -> None:
        """Drop history that left the retention; a pruned service's next state document is a base
        (its deltas could not express the dropped facts)."""
        pruned = pruning.prune(self.engine, self.clock())
        self.pruning.done(len(pruned))
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
        if self.dirty or self.uncommitted or self.unacked or (collect and self.garbage):
            self._start_checkpoint(collect)
            await self.finish_checkpoint()

    async def finish_checkpoint(self) -> None:
        """Wait for the checkpoint in flight; its error, if it failed, is raised here."""
        task = self.checkpointing
        if task is not None:
            await asyncio.wait([task])
        self._check_checkpoint()

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
        if docs:
            await self.store.append_states(docs)
            for cursor, base, seq, count, asked in moves:
                if base:
                    cursor.wrote_base(seq, count, asked)
                else:
                    cursor.wrote_delta(seq, count)
        if garbage:
            await self.store.delete_states(garbage)
        await asyncio.gather(*sends)
        if offsets:
            await self.kafka_consumer().commit(offsets)
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
            if cursor.wants_base(len(events)):
                state = self.engine.export_service(service)
                count = len(state["seen"])
                docs.append(base_doc(service, seq, state, count, partition, offset, now))
                moves.append(Move(cursor, True, seq, count, cursor.rebases_asked))
                if cursor.seq >= 0:  # the old base and its deltas
                    self.garbage.extend(doc_id(service, old) for old in range(cursor.base_seq, seq))
            else:
                docs.append(delta_doc(service, seq, events, partition, offset, now))
                moves.append(Move(cursor, False, seq, len(events), cursor.rebases_asked))
        self.dirty.clear()
        return docs, moves

    async def _load(self, partitions: list[int]) -> None:
        """Load the stored state of every service last written from `partitions`."""
        if not partitions:
            return
        started = time.perf_counter()
        stored = await self.store.load_states(partitions=partitions)
        replayed = 0
        for service, state in stored.items():
            replayed += restore(self.engine, state)
            self.applied[service] = (state.partition, state.offset)
            self.cursors[service] = state.cursor
            self.garbage.extend(state.garbage)
        self.loaded.update(partitions)
        log.info(
            "state loaded partitions=%s services=%d replayed_events=%d seconds=%.2f",
            partitions,
            len(stored),
            replayed,
            time.perf_counter() - started,
        )

    async def _publish(self, services: frozenset[str]) -> None:
        if not services:
            return
        producer = self.kafka_producer()
        as_of = self.clock()
        for s in sorted(services):  # acknowledged by the next checkpoint, before it commits offsets
            self.unacked.append(
                await producer.send(
                    self.settings.metrics_topic, value=service_snapshot(self.engine, s, as_of), key=s.encode()
                )
            )
