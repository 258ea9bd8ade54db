"""Ingest's on-disk spool: where accepted deliveries wait, fsync'd, while Kafka is unreachable.

One append-only file of records `[u32 length][u32 crc32][payload]` and a small file holding how
many bytes of it have been drained (published and acknowledged). When everything is drained both
are truncated. A torn record at the tail (a crash mid-append) fails its CRC and is dropped with a
warning: it was never acknowledged to the sender, so nothing accepted is lost.

Several ingest processes share one `METRICSYNC_SPOOL_DIR`: each claims a slot of its own,
`<spool dir>/worker-<n>/`, by taking an exclusive `flock` on the slot's `lock` file (the lowest `n`
free), so two processes never write or drain the same files, and a restarted process gets the slot
its predecessor left. A slot whose lock is free but which still holds records (its process died,
or the worker count shrank) is an orphan: any process may claim it, drain it into Kafka and let it
go (`claim_orphans`). The spool of the layout before slots (`<spool dir>/spool.log`) is one too.

A record Kafka refuses for good (too large for the topic) would stop the drain forever and every
record behind it: it is moved aside instead, appended (fsync'd, same framing) to `rejected.log`
beside the slot's `spool.log`, and the drain goes on. Nothing drains `rejected.log` by itself; once
Kafka's limit is raised, moving it to `spool.log` of a fresh slot directory (e.g.
`<spool dir>/worker-900/`) has any ingest process claim it as an orphan and publish it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import struct
import zlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">II")


SLOT_PREFIX = "worker-"
LOCK_FILE = "lock"
REJECTED_FILE = "rejected.log"
MAX_SLOTS = 1024  # far more ingest processes than one spool directory should ever see


class SpoolFull(Exception):
    """The spool has no room for another record."""


def _try_lock(directory: Path) -> int | None:
    """An open fd holding an exclusive flock on `directory/lock`, or None when another process
    (or another open file of this one) holds it. The lock lasts until the fd is closed or the
    process ends, however it ends."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


class Spool:
    def __init__(self, directory: Path, max_bytes: int, lock_fd: int | None = None) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.log_path = directory / "spool.log"
        self.offset_path = directory / "spool.offset"
        self.rejected_path = directory / REJECTED_FILE
        self._lock_fd = lock_fd
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool")
        self._lock = asyncio.Lock()
        directory.mkdir(parents=True, exist_ok=True)
        self._drained = self._read_offset()
        self._ends: deque[int] = deque()  # end offset of each pending record (for pending_records)
        self._size = self._recover()

    @classmethod
    def claim(cls, directory: Path, max_bytes: int) -> Spool | None:
        """The spool in `directory`, locked for this process; None when another process holds it."""
        fd = _try_lock(directory)
        if fd is None:
            return None
        try:
            return cls(directory, max_bytes, lock_fd=fd)
        except BaseException:
            os.close(fd)
            raise

    @property
    def pending_bytes(self) -> int:
        return self._size - self._drained

    @property
    def pending_records(self) -> int:
        return len(self._ends)

    def is_empty(self) -> bool:
        return self._size == self._drained

    def _recover(self) -> int:
        """The valid length of the log; a torn tail (crash mid-append) is cut off."""
        if not self.log_path.exists():
            return 0
        valid = self._drained
        for end, _ in self._read(self._drained, 1 << 62):
            valid = end
            self._ends.append(end)
        if valid < self.log_path.stat().st_size:
            with self.log_path.open("r+b") as f:
                f.truncate(valid)
                os.fsync(f.fileno())
        return valid

    def _read_offset(self) -> int:
        try:
            return int(self.offset_path.read_text().strip() or 0)
        except FileNotFoundError:
            return 0

    async def append(self, payload: bytes) -> None:
        """Append one record and fsync before returning. Raises SpoolFull when over max_bytes."""
        record = _HEADER.pack(len(payload), zlib.crc32(payload)) + payload
        async with self._lock:
            if self._size + len(record) > self.max_bytes:
                raise SpoolFull(f"spool {self.log_path} is full ({self._size} of {self.max_bytes} bytes)")
            await asyncio.get_running_loop().run_in_executor(self._executor, self._append, record)
            self._size += len(record)
            self._ends.append(self._size)

    def _append(self, record: bytes, path: Path | None = None) -> None:
        fd = os.open(path or self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            view = memoryview(record)
            while view:  # a large record may take more than one write
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)

    async def reject(self, payload: bytes) -> None:
        """Keep a record Kafka refuses for good in `rejected.log` (fsync'd, the spool's framing), so the
        drain can move past it without losing it. Mark it drained afterwards."""
        record = _HEADER.pack(len(payload), zlib.crc32(payload)) + payload
        async with self._lock:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._append, record, self.rejected_path)

    def rejected(self) -> list[bytes]:
        """The records moved aside (tests, operators' scripts)."""
        return [payload for _, payload in _read_records(self.rejected_path, 0, 1 << 62)]

    async def read_pending(self, max_records: int) -> list[tuple[int, bytes]]:
        """Up to `max_records` undrained records, each with the offset just past it."""
        async with self._lock:
            return await asyncio.get_running_loop().run_in_executor(
                self._executor, self._read, self._drained, max_records
            )

    def _read(self, start: int, max_records: int) -> list[tuple[int, bytes]]:
        return _read_records(self.log_path, start, max_records)

    async def mark_drained(self, offset: int) -> None:
        """Everything before `offset` is published; truncate when all is."""
        async with self._lock:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._mark, offset)

    def _mark(self, offset: int) -> None:
        while self._ends and self._ends[0] <= offset:
            self._ends.popleft()
        if offset >= self._size:
            with self.log_path.open("wb") as f:
                os.fsync(f.fileno())
            self.offset_path.write_text("0")
            self._size = 0
            self._drained = 0
            return
        tmp = self.offset_path.with_suffix(".tmp")
        with tmp.open("w") as f:
            f.write(str(offset))
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self.offset_path)
        self._drained = offset

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the slot
            self._lock_fd = None


def _read_records(path: Path, start: int, max_records: int) -> list[tuple[int, bytes]]:
    """Up to `max_records` records of `path` from byte `start`, each with the offset just past it."""
    out: list[tuple[int, bytes]] = []
    if not path.exists():
        return out
    with path.open("rb") as f:
        f.seek(start)
        position = start
        while len(out) < max_records:
            header = f.read(_HEADER.size)
            if len(header) < _HEADER.size:
                break
            length, crc = _HEADER.unpack(header)
            payload = f.read(length)
            if len(payload) < length or zlib.crc32(payload) != crc:
                log.warning("spool: dropping a torn record in %s at offset=%d (never acknowledged)", path, position)
                break
            position += _HEADER.size + length
            out.append((position, payload))
    return out


def slot_directory(root: Path, index: int) -> Path:
    return root / f"{SLOT_PREFIX}{index}"


def claim_own_spool(root: Path, max_bytes: int) -> Spool:
    """This process's spool: the lowest-numbered slot under `root` that no other process holds."""
    for index in range(MAX_SLOTS):
        spool = Spool.claim(slot_directory(root, index), max_bytes)
        if spool is not None:
            return spool
    raise OSError(f"all {MAX_SLOTS} spool slots under {root} are locked by other processes")


def _slot_directories(root: Path) -> list[Path]:
    """The legacy root spool first (the oldest records), then worker slots by index."""
    slots: list[tuple[int, Path]] = []
    with contextlib.suppress(FileNotFoundError):
        for entry in root.iterdir():
            suffix = entry.name.removeprefix(SLOT_PREFIX)
            if entry.name.startswith(SLOT_PREFIX) and suffix.isdigit() and entry.is_dir():
                slots.append((int(suffix), entry))
    return [root] + [path for _, path in sorted(slots)]


def claim_orphans(root: Path, max_bytes: int, exclude: Path | None = None) -> list[Spool]:
    """Every spool under `root` that holds undrained records and that no process holds: slots of
    processes that died or of worker indexes no longer running, and the pre-slot spool in `root`
    itself. Each is returned locked for this process (close it once drained, to let it go)."""
    claimed: list[Spool] = []
    for directory in _slot_directories(root):
        if directory == exclude:
            continue
        try:
            if (directory / "spool.log").stat().st_size == 0:
                continue  # drained spools are truncated to nothing
        except FileNotFoundError:
            continue
        spool = Spool.claim(directory, max_bytes)
        if spool is None:
            continue  # its owner is alive, or another process is draining it
        if spool.is_empty():
            spool.close()
            continue
        log.info("spool: claimed orphan %s pending_bytes=%d", directory, spool.pending_bytes)
        claimed.append(spool)
    return claimed
