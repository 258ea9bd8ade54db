"""How HTTP services are served: one write per connection per loop iteration, and N processes on
one port (SO_REUSEPORT) under a supervisor that restarts them and stops them together."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.procs import process_tree
from metricsync.web.serving import _CoalescingTransport, reuseport_sockets
from tests.support.process import free_port, wait_until


class FakeTransport:
    def __init__(self) -> None:
        self.writes: list[list[bytes]] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.writes.append([data])

    def writelines(self, chunks: list[bytes]) -> None:
        self.writes.append(list(chunks))

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


def coalescing(fake: FakeTransport) -> Any:
    return _CoalescingTransport(fake, asyncio.get_running_loop())  # type: ignore[arg-type]


async def test_writes_of_one_iteration_leave_together() -> None:
    fake = FakeTransport()
    transport = coalescing(fake)
    transport.write(b"HTTP/1.1 202 Accepted\r\n\r\n")
    transport.write(b"")
    transport.write(b'{"status":"accepted"}')
    assert fake.writes == []
    assert transport.get_write_buffer_size() == len(b"HTTP/1.1 202 Accepted\r\n\r\n") + len(b'{"status":"accepted"}')
    await asyncio.sleep(0)
    assert fake.writes == [[b"HTTP/1.1 202 Accepted\r\n\r\n", b'{"status":"accepted"}']]
    transport.write(b"next")
    await asyncio.sleep(0)
    assert fake.writes[-1] == [b"next"]
    assert transport.get_extra_info("peername") == "info:peername"


async def test_close_sends_what_is_pending_first_abort_drops_it() -> None:
    fake = FakeTransport()
    transport = coalescing(fake)
    transport.write(b"last words")
    transport.close()
    assert fake.writes == [[b"last words"]]
    assert fake.closed

    other = FakeTransport()
    transport = coalescing(other)
    transport.write(b"never")
    transport.abort()
    await asyncio.sleep(0)
    assert other.writes == []
    assert other.aborted


def test_reuseport_sockets_share_one_port() -> None:
    sockets = reuseport_sockets("127.0.0.1", 0, 3)
    try:
        ports = {s.getsockname()[1] for s in sockets}
        assert len(ports) == 1
        with socket.create_connection(("127.0.0.1", ports.pop()), timeout=2):
            pass
    finally:
        for s in sockets:
            s.close()


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The bench's bare app served by 2 worker processes (no Kafka needed)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("METRICSYNC_")}
    env.update({"METRICSYNC_PORT": str(port), "METRICSYNC_INGEST_WORKERS": "2", "METRICSYNC_LOG_LEVEL": "INFO"})
    log = (tmp_path / "bare.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "bench.bare"], env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"

    def serving() -> bool:
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until("the workers to serve", lambda: serving() and len(process_tree(proc.pid)) == 3, timeout=30)
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        log.close()


def test_a_dead_worker_is_restarted_and_sigterm_stops_them_all(
    two_workers: tuple[subprocess.Popen[bytes], str],
) -> None:
    proc, base = two_workers
    first, second = process_tree(proc.pid)[1:]
    os.kill(first, signal.SIGKILL)
    wait_until(
        "a replacement worker",
        lambda: len(process_tree(proc.pid)) == 3 and first not in process_tree(proc.pid),
        timeout=30,
    )
    assert second in process_tree(proc.pid)
    with httpx.Client(base_url=base, timeout=5) as client:
        assert all(client.post("/webhooks/github", content=b"{}").status_code == 202 for _ in range(50))

    workers = process_tree(proc.pid)[1:]
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert time.monotonic() - started < 15
    for pid in workers:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_workers_stop_when_the_supervisor_is_killed(two_workers: tuple[subprocess.Popen[bytes], str]) -> None:
    proc, _ = two_workers
    workers = process_tree(proc.pid)[1:]
    proc.kill()  # SIGKILL: no chance to stop them itself
    proc.wait(10)

    def gone(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"

    wait_until("the orphaned workers to stop", lambda: all(gone(pid) for pid in workers), timeout=30)
