"""Fan-out of metric snapshots to the live streams of this process, with a short replay history.

Each snapshot (one service changed) becomes a `Change` with an id `<epoch>.<seq>`: the epoch names
this hub (a restarted process, another API replica), the sequence orders the changes. A client that
reconnects with `Last-Event-ID` gets what it missed from the history when the id is this hub's and
still held; otherwise it is told to reload (`reset`). A listener that falls `listener_limit` changes
behind is also told to reload rather than holding memory for it.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass

import orjson


@dataclass(frozen=True, slots=True)
class Change:
    seq: int
    service: str
    data: bytes  # the JSON the stream sends: {"service": ..., "snapshot": {...}}


_CLOSING = Change(-1, "", b"")


class Listener:
    """One open stream: the changes of its services (None: all) since it started listening."""

    def __init__(self, services: frozenset[str] | None, limit: int) -> None:
        self.services = services
        self.limit = limit
        self.overflowed = False
        self.closed = False
        self._queue: asyncio.Queue[Change] = asyncio.Queue()

    def wants(self, service: str) -> bool:
        return self.services is None or service in self.services

    def offer(self, change: Change) -> None:
        if not self.wants(change.service):
            return
        if self._queue.qsize() >= self.limit:
            self.overflowed = True
            return
        self._queue.put_nowait(change)

    async def next(self, wait_seconds: float) -> Change | None:
        """The next change, or None when `wait_seconds` pass without one."""
        try:
            async with asyncio.timeout(wait_seconds):
                return await self._queue.get()
        except TimeoutError:
            return None

    def close(self) -> None:
        """The server is stopping: wake the stream so it ends (its client reconnects elsewhere or later)."""
        self.closed = True
        self._queue.put_nowait(_CLOSING)

    def drain(self) -> None:
        """Forget what is queued (after the client was told to reload everything)."""
        while not self._queue.empty():
            self._queue.get_nowait()
        self.overflowed = False


class StreamHub:
    def __init__(self, history: int = 2048, listener_limit: int = 1024, epoch: str | None = None) -> None:
        self.epoch = epoch or secrets.token_hex(4)
        self.listener_limit = listener_limit
        self._seq = 0
        self._history: deque[Change] = deque(maxlen=history)
        self._listeners: set[Listener] = set()
        self.closed = False

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    def event_id(self, seq: int) -> str:
        return f"{self.epoch}.{seq}"

    def current_id(self) -> str:
        return self.event_id(self._seq)

    def publish(self, service: str, snapshot: bytes) -> Change:
        """One service's metrics changed; `snapshot` is its metrics-topic value (JSON), passed on as is."""
        self._seq += 1
        data = b'{"service":' + orjson.dumps(service) + b',"snapshot":' + (snapshot or b"null") + b"}"
        change = Change(self._seq, service, data)
        self._history.append(change)
        for listener in self._listeners:
            listener.offer(change)
        return change

    def listen(self, services: Collection[str] | None) -> Listener:
        listener = Listener(None if services is None else frozenset(services), self.listener_limit)
        self._listeners.add(listener)
        if self.closed:
            listener.close()
        return listener

    def leave(self, listener: Listener) -> None:
        self._listeners.discard(listener)

    def close(self) -> None:
        """End every open stream (on SIGTERM/SIGINT: an open stream would hold the graceful shutdown
        for its whole timeout); streams opened later end at once."""
        self.closed = True
        for listener in self._listeners:
            listener.close()

    def since(self, last_event_id: str, services: Collection[str] | None) -> list[Change] | None:
        """The changes after `last_event_id` for `services`; None when they cannot be told (an id of
        another hub, malformed, or older than the history): the client must reload."""
        epoch, _, seq_text = last_event_id.strip().partition(".")
        if epoch != self.epoch or not seq_text.isdigit():
            return None
        seq = int(seq_text)
        if seq > self._seq:
            return None
        if seq < self._seq and (not self._history or self._history[0].seq > seq + 1):
            return None
        wanted = None if services is None else frozenset(services)
        return [c for c in self._history if c.seq > seq and (wanted is None or c.service in wanted)]
