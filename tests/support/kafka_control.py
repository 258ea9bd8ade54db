"""Faults on a real Kafka: a private broker (scripts/services in a run dir of the test's own) that a
test can stop, start again with its data, or start again having lost its data (a fresh, newly
formatted log directory: every topic and committed offset gone), on the same port."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

SERVICES = Path(__file__).resolve().parents[2] / "scripts" / "services"
STOP_TIMEOUT = 30.0
START_TIMEOUT = 90.0


def _cluster_id() -> str:
    """A KRaft cluster id as Kafka's `Uuid.randomUuid().toString()` writes it (never starting with '-')."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


@dataclass
class KafkaControl:
    """The broker of a scripts/services run dir. `stop`/`start` keep its data; `lose_data` (while it
    is stopped) replaces the data directory with a freshly formatted one."""

    run_dir: Path  # <METRICSYNC_SERVICES_DIR>/kafka
    bootstrap: str
    command: list[str]  # the broker's command line, as scripts/services started it
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None  # the broker once restarted here (our child)

    @classmethod
    def of(cls, services_dir: Path, bootstrap: str) -> KafkaControl:
        run_dir = services_dir / "kafka"
        pid = int((run_dir / "pid").read_text().strip())
        command = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        environ = Path(f"/proc/{pid}/environ").read_bytes().rstrip(b"\0").split(b"\0")
        env = dict(item.decode().split("=", 1) for item in environ if b"=" in item)
        properties = (run_dir / "server.properties").read_text()
        args = [part.decode() for part in command]
        if f"PLAINTEXT://{bootstrap}" not in properties or str(run_dir / "server.properties") not in args:
            raise AssertionError(f"the broker at {bootstrap} is not the one of {run_dir} (pid {pid})")
        return cls(run_dir, bootstrap, args, env)

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "pid"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if self._alive(pid) else None

    def running(self) -> bool:
        return self.pid() is not None

    def stop(self) -> float:
        """SIGTERM (a controlled shutdown, as an operator or orchestrator stops it); SIGKILL after
        STOP_TIMEOUT. Returns the seconds it took."""
        pid = self.pid()
        started = time.monotonic()
        if pid is None:
            raise AssertionError(f"no broker of {self.run_dir} runs (pid file {self.pid_file})")
        os.kill(pid, signal.SIGTERM)
        deadline = started + STOP_TIMEOUT
        while time.monotonic() < deadline and self._alive(pid):
            time.sleep(0.1)
        if self._alive(pid):
            os.kill(pid, signal.SIGKILL)
            while self._alive(pid):
                time.sleep(0.05)
        return time.monotonic() - started

    def start(self) -> float:
        """Start the broker again with the command scripts/services used (its data as it is); wait
        until it lists topics. Returns the seconds it took."""
        if self.running():
            return 0.0
        started = time.monotonic()
        with (self.run_dir / "stdout.log").open("ab") as out:
            proc = subprocess.Popen(
                self.command,
                cwd=self.run_dir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.proc = proc
        self.pid_file.write_text(f"{proc.pid}\n")  # `scripts/services down` stops this one
        asyncio.run(_wait_ready(self.bootstrap, started + START_TIMEOUT, proc))
        return time.monotonic() - started

    def reap(self) -> None:
        """After `scripts/services down`: collect the broker this object started, if any."""
        if self.proc is not None:
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def lose_data(self) -> None:
        """While stopped: the log directory is gone and formatted anew (a new cluster id), as after a
        lost disk. Topics, records and committed offsets are gone; the broker may auto-create topics
        again (with 1 partition) when clients ask for them."""
        if self.running():
            raise RuntimeError("stop the broker before losing its data")
        data = self.run_dir / "data"
        shutil.rmtree(data)
        data.mkdir()
        classpath = self.command[self.command.index("-cp") + 1]
        log4j = next(part for part in self.command if part.startswith("-Dlog4j2.configurationFile="))
        subprocess.run(
            [
                "java",
                log4j,
                "-cp",
                classpath,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                _cluster_id(),
                "-c",
                str(self.run_dir / "server.properties"),
            ],
            env=self.env,
            check=True,
            capture_output=True,
            timeout=120,
        )

    @contextmanager
    def down_for(self, seconds: float) -> Iterator[dict[str, float]]:
        """Stop the broker on entry; on exit, once `seconds` have passed since it went down, start it
        again. Yields the figures: stop, down (seconds without a broker), start."""
        figures: dict[str, float] = {}
        figures["stop"] = self.stop()
        down_at = time.monotonic()
        try:
            yield figures
        finally:
            remaining = seconds - (time.monotonic() - down_at)
            if remaining > 0:
                time.sleep(remaining)
            figures["start"] = self.start()
            figures["down"] = time.monotonic() - down_at - figures["start"]

    def _alive(self, pid: int) -> bool:
        if self.proc is not None and self.proc.pid == pid:  # our own child (restarted here)
            return self.proc.poll() is None
        return _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


async def _wait_ready(bootstrap: str, deadline: float, proc: subprocess.Popen[bytes]) -> None:
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"kafka exited with {proc.returncode} on restart")
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
        try:
            await admin.start()
            await admin.list_topics()
            return
        except (KafkaError, OSError) as e:
            last = e
        finally:
            await admin.close()
        await asyncio.sleep(0.5)
    raise AssertionError(f"kafka did not answer within {START_TIMEOUT}s of its restart: {last!r}")


def services_env(run_dir: Path) -> dict[str, str]:
    return {**os.environ, "METRICSYNC_SERVICES_DIR": str(run_dir), "METRICSYNC_PYTHON": sys.executable}
