"""Processes the benchmarks start: MetricSync commands, the bare ceiling app, RSS sampling."""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The bench's environment without METRICSYNC_* (each process gets exactly what it is given)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("METRICSYNC_")}
    env.update(extra)
    return env


class Proc:
    """A child process (`python -m metricsync.cli ...` or another module) logging to a file."""

    def __init__(self, args: list[str], env: Mapping[str, str], log_path: Path, module: str = "metricsync.cli") -> None:
        self.args = args
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, *args], env=clean_env(env), stdout=self._log, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def wait(self, timeout: float) -> int:
        code = self.proc.wait(timeout)
        self._log.close()
        if code != 0:
            raise RuntimeError(f"{' '.join(self.args)} exited {code}:\n{self.tail()}")
        return code

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if not self._log.closed:
            self._log.close()


def wait_http(url: str, proc: Proc, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{' '.join(proc.args)} exited before {url} answered:\n{proc.tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError) as e:
            last = repr(e)
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {timeout}s ({last}):\n{proc.tail()}")


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident set size of a process, MB (from /proc); field "VmHWM" for its peak. The peak is the
    process's own: unlike getrusage's ru_maxrss, which Linux carries over from the parent through fork
    and exec, so a child of the bench would report the bench's own peak."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def pss_mb(pid: int) -> float:
    """Proportional set size, MB: pages shared between processes (after a fork) counted once overall."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (a supervisor and its worker processes)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


class RssSampler:
    """Samples a process's RSS every `interval` seconds in a thread; `peak` is the largest seen.
    With `tree`, also its descendants: `peak` is then the largest single process, `peak_total`
    the largest sum of their PSS (what N forked workers occupy together)."""

    def __init__(self, pid: int, interval: float = 0.2, tree: bool = False) -> None:
        self.pid = pid
        self.interval = interval
        self.tree = tree
        self.peak = 0.0
        self.peak_total = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = process_tree(self.pid) if self.tree else [self.pid]
            self.peak = max(self.peak, *(rss_mb(pid) for pid in pids))
            if self.tree:
                self.peak_total = max(self.peak_total, sum(pss_mb(pid) for pid in pids))
            self._stop.wait(self.interval)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (from /proc; 0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def server_pids(ports: Mapping[str, int] | None = None) -> dict[str, int]:
    """The pids of the local Kafka broker and FerretDB ({} on other setups): the processes listening on
    `ports` (name -> port) when given, so servers of other runs on the same machine are not mistaken
    for the bench's own; else the first found by command line."""
    if ports:
        by_port = {name: listening_pid(port) for name, port in ports.items()}
        return {name: pid for name, pid in by_port.items() if pid is not None}
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"kafka.Kafka" in cmdline:
            found.setdefault("Kafka", int(entry.name))
        elif b"ferretdb" in cmdline.split(b"\0", 1)[0]:
            found.setdefault("FerretDB", int(entry.name))
    return found


def listening_pid(port: int) -> int | None:
    """The pid holding a TCP socket listening on `port` (Linux /proc; None if none is visible)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    return int(entry.name)
        except OSError:
            continue
    return None


def endpoint_ports(kafka_bootstrap: str, mongo_uri: str) -> dict[str, int]:
    """{"Kafka": port, "FerretDB": port} of the bench's servers (first bootstrap host; the URI's port)."""
    kafka = kafka_bootstrap.split(",")[0].rsplit(":", 1)[1]
    mongo = mongo_uri.split("://", 1)[1].split("/", 1)[0].split(",")[0]
    return {"Kafka": int(kafka), "FerretDB": int(mongo.rsplit(":", 1)[1]) if ":" in mongo else 27017}


class CpuMeter:
    """CPU seconds used by waited-for children of this process and by the local servers between
    `__enter__` and `__exit__`: where a consumer service's time goes."""

    def __init__(self, ports: Mapping[str, int] | None = None) -> None:
        self.servers = server_pids(ports)
        self.used: dict[str, float] = {}

    def __enter__(self) -> CpuMeter:
        self._children = _children_cpu()
        self._servers = {name: cpu_seconds(pid) for name, pid in self.servers.items()}
        return self

    def __exit__(self, *exc: object) -> None:
        self.used = {"service": _children_cpu() - self._children}
        for name, pid in self.servers.items():
            self.used[name] = cpu_seconds(pid) - self._servers[name]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
