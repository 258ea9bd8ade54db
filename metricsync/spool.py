"""Ingest's on-disk spool: where accepted deliveries wait, fsync'd, while Kafka is unreachable.

One append-only file of records `[u32 length][u32 crc32][payload]` and a small file holding how
many bytes of it have been drained (published and acknowledged). When everything is drained both
are truncated. A torn record at the tail (a crash mid-append) fails its CRC and is dropped with a
warning: it was never acknowledged to the sender, so nothing accepted is lost.
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">II")


class SpoolFull(Exception):
    """The spool has no room for another record."""


class Spool:
    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.log_path = directory / "spool.log"
        self.offset_path = directory / "spool.offset"
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool")
        self._lock = asyncio.Lock()
        directory.mkdir(parents=True, exist_ok=True)
        self._drained = self._read_offset()
        self._size = self._recover()

    @property
    def pending_bytes(self) -> int:
        return self._size - self._drained

    def is_empty(self) -> bool:
        return self._size == self._drained

    def _recover(self) -> int:
        """The valid length of the log; a torn tail (crash mid-append) is cut off."""
        if not self.log_path.exists():
            return 0
        valid = self._drained
        for end, _ in self._read(self._drained, 1 << 62):
            valid = end
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

    def _append(self, record: bytes) -> None:
        fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, record)
            os.fsync(fd)
        finally:
            os.close(fd)

    async def read_pending(self, max_records: int) -> list[tuple[int, bytes]]:
        """Up to `max_records` undrained records, each with the offset just past it."""
        async with self._lock:
            return await asyncio.get_running_loop().run_in_executor(
                self._executor, self._read, self._drained, max_records
            )

    def _read(self, start: int, max_records: int) -> list[tuple[int, bytes]]:
        out: list[tuple[int, bytes]] = []
        if not self.log_path.exists():
            return out
        with self.log_path.open("rb") as f:
            f.seek(start)
            position = start
            while len(out) < max_records:
                header = f.read(_HEADER.size)
                if len(header) < _HEADER.size:
                    break
                length, crc = _HEADER.unpack(header)
                payload = f.read(length)
                if len(payload) < length or zlib.crc32(payload) != crc:
                    log.warning("spool: dropping a torn record at offset=%d (never acknowledged)", position)
                    break
                position += _HEADER.size + length
                out.append((position, payload))
        return out

    async def mark_drained(self, offset: int) -> None:
        """Everything before `offset` is published; truncate when all is."""
        async with self._lock:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._mark, offset)

    def _mark(self, offset: int) -> None:
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
