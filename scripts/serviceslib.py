"""Small helpers for ``scripts/services``: ports, process control and readiness checks.

Run as ``python3 scripts/serviceslib.py COMMAND ...``; the bash script calls it for the parts that are
awkward in shell. Only the standard library is required. aiokafka and pymongo are used for the
readiness checks when the running interpreter has them (the project's virtualenv does); otherwise
the MongoDB check speaks the wire protocol itself and the Kafka check reports "unavailable" (exit 3)
so that the caller can fall back to Kafka's own ``TopicCommand``.

The pure parts (cluster ids, port choice, env lines, the OP_MSG ping) are unit-tested in
``tests/integration/test_services_smoke.py``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import importlib.util
import logging
import os
import signal
import socket
import struct
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

LOOPBACK = "127.0.0.1"

# Exit codes shared with scripts/services.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_DIED = 2
EXIT_UNAVAILABLE = 3

_OP_MSG = 2013
# BSON element types of fixed size (double, int32, int64, bool, datetime, timestamp, ObjectId, null).
_BSON_FIXED_SIZES = {0x01: 8, 0x10: 4, 0x12: 8, 0x08: 1, 0x09: 8, 0x11: 8, 0x07: 12, 0x0A: 0}


def kafka_cluster_id() -> str:
    """Return a random KRaft cluster id the way ``kafka-storage random-uuid`` prints one.

    Kafka's ``Uuid.toString`` is the URL-safe base64 of the 16 bytes without padding (22 characters);
    ``Uuid.randomUuid`` draws again when the text would start with ``-`` (it reads like an option).
    """
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        if not text.startswith("-"):
            return text


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """Tell whether ``host:port`` can be bound right now (nothing listens there).

    With SO_REUSEADDR, as the servers (Go, the JVM) bind: connections of an earlier run still in
    TIME_WAIT do not make a port taken.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = LOOPBACK) -> int:
    """Return a port the kernel considers free on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def choose_port(preferred: int, avoid: Sequence[int] = (), host: str = LOOPBACK) -> int:
    """Return ``preferred`` when it is free and not in ``avoid``, else some other free port.

    ``preferred`` 0 (or less) means "any free port".
    """
    if preferred > 0 and preferred not in avoid and port_is_free(preferred, host):
        return preferred
    for _ in range(50):
        port = free_port(host)
        if port not in avoid:
            return port
    raise RuntimeError(f"no free TCP port found on {host}")


def env_lines(
    kafka_port: int,
    mongo_port: int,
    *,
    export: bool = False,
    prometheus_port: int | None = None,
    prometheus_dir: str | None = None,
    alertmanager_port: int | None = None,
    alertmanager_dir: str | None = None,
) -> list[str]:
    """Return the lines ``scripts/services env`` prints for tests and tools."""
    prefix = "export " if export else ""
    lines = [
        f"{prefix}METRICSYNC_KAFKA_BOOTSTRAP={LOOPBACK}:{kafka_port}",
        f"{prefix}METRICSYNC_MONGO_URI=mongodb://{LOOPBACK}:{mongo_port}/",
    ]
    if prometheus_port is not None:
        lines.append(f"{prefix}METRICSYNC_PROMETHEUS_URL=http://{LOOPBACK}:{prometheus_port}")
    if alertmanager_port is not None:
        lines.append(f"{prefix}METRICSYNC_ALERTMANAGER_URL=http://{LOOPBACK}:{alertmanager_port}")
    return lines + binary_lines(prometheus_dir, alertmanager_dir, export=export)


def binary_lines(prometheus_dir: str | None, alertmanager_dir: str | None, *, export: bool = False) -> list[str]:
    """The binaries tests start their own Prometheus and Alertmanager from (one per test, own config)."""
    prefix = "export " if export else ""
    lines = []
    if prometheus_dir is not None:
        lines.append(f"{prefix}METRICSYNC_PROMETHEUS_BIN={prometheus_dir}/prometheus")
    if alertmanager_dir is not None:
        lines.append(f"{prefix}METRICSYNC_ALERTMANAGER_BIN={alertmanager_dir}/alertmanager")
    return lines


# --- processes -----------------------------------------------------------------------------------


def pid_matches(pid: int, marker: str) -> bool:
    """Tell whether ``pid`` is alive (not a zombie) and its command line contains ``marker``.

    The marker (the services run directory) guards against a recycled pid.
    """
    proc = Path("/proc") / str(pid)
    try:
        stat = (proc / "stat").read_text()
        cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    state = stat.rpartition(")")[2].split()[0]
    return state not in ("Z", "X") and marker in cmdline


def read_pid(pid_file: Path) -> int | None:
    """Return the pid stored in ``pid_file``, or None when the file is missing or garbled."""
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def exit_description(returncode: int) -> str:
    """``exited with status 1`` or ``killed by SIGKILL``, from a ``Popen.returncode``."""
    if returncode >= 0:
        return f"exited with status {returncode}"
    try:
        return f"killed by {signal.Signals(-returncode).name}"
    except ValueError:
        return f"killed by signal {-returncode}"


def _watch(cmd: Sequence[str], *, log_file: Path, cwd: Path, report_fd: int) -> None:
    """The watcher's body: start ``cmd``, report its pid (or why it could not start) on ``report_fd``,
    wait for it, then append how it ended to ``log_file``."""
    import subprocess  # imported here: each helper call is a fresh interpreter, keep start-up cheap

    # Nothing of the caller's: a shell's $(...) waits for every holder of its pipe to close it.
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    os.closerange(3, report_fd)
    os.closerange(report_fd + 1, 1024)
    try:
        with log_file.open("ab") as log:
            proc = subprocess.Popen(
                list(cmd),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
    except OSError as exc:
        os.write(report_fd, f"error: could not start {cmd[0]}: {exc}".encode())
        return
    # Only now (an ignored signal would be inherited): a group-wide SIGTERM stops the service, and
    # the watcher stays to report it.
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    os.write(report_fd, f"{proc.pid}".encode())
    os.close(report_fd)
    returncode = proc.wait()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with log_file.open("ab") as log:
        log.write(
            f"[scripts/services {stamp}] {Path(cmd[0]).name} (pid {proc.pid}) {exit_description(returncode)}\n".encode()
        )


def spawn(cmd: Sequence[str], *, pid_file: Path, log_file: Path, cwd: Path) -> int:
    """Start ``cmd`` detached in its own session, output appended to ``log_file``; write its pid.

    A small watcher (a fork of this helper, in the new session) is the service's parent: when the
    service ends, for whatever reason, the watcher appends how (``exited with status 1``, ``killed
    by SIGKILL``) to ``log_file``. Without it a service that dies before writing a line leaves an
    empty log and nothing else (a CI run on 2026-12-03: Alertmanager exited during start-up with
    an empty log). The pid written is the service's, so ``alive``/``stop`` act on it directly.
    """
    read_fd, report_fd = os.pipe()
    watcher = os.fork()
    if watcher == 0:  # pragma: no cover - the child's exit status is all the parent sees
        code = 0
        try:
            os.close(read_fd)
            os.setsid()
            _watch(cmd, log_file=log_file, cwd=cwd, report_fd=report_fd)
        except BaseException:  # nothing to report to: the parent sees no pid, says so
            code = 1
        os._exit(code)
    os.close(report_fd)
    chunks = []
    while chunk := os.read(read_fd, 4096):
        chunks.append(chunk)
    os.close(read_fd)
    report = b"".join(chunks).decode(errors="replace")
    if not report.isdigit():
        os.waitpid(watcher, 0)
        raise SystemExit(report or f"error: the watcher for {cmd[0]} failed before starting it")
    pid = int(report)
    pid_file.write_text(f"{pid}\n")
    return pid


def stop(pid: int, marker: str, timeout: float) -> str:
    """SIGTERM ``pid``, wait up to ``timeout`` seconds, then SIGKILL. Return what happened."""
    if not pid_matches(pid, marker):
        return "not running"
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_matches(pid, marker):
            return "stopped"
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    for _ in range(50):
        if not pid_matches(pid, marker):
            break
        time.sleep(0.1)
    return f"killed (no exit {timeout:.0f}s after SIGTERM)"


def wait_tcp(port: int, *, timeout: float, pid: int | None = None, marker: str = "") -> int:
    """Wait until ``127.0.0.1:port`` accepts connections.

    Returns EXIT_OK, EXIT_DIED when ``pid`` exits first, or EXIT_FAILED on timeout.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pid is not None and not pid_matches(pid, marker):
            return EXIT_DIED
        try:
            with socket.create_connection((LOOPBACK, port), timeout=1):
                return EXIT_OK
        except OSError:
            time.sleep(0.1)
    return EXIT_FAILED


# --- MongoDB wire ping without a driver ----------------------------------------------------------


def _bson_cstring(text: str) -> bytes:
    raw = text.encode()
    if b"\0" in raw:
        raise ValueError(f"BSON key or string {text!r} contains NUL")
    return raw + b"\0"


def encode_bson(doc: dict[str, int | str]) -> bytes:
    """Encode a flat document of int32 and string values (all a ping needs) as BSON."""
    body = bytearray()
    for key, value in doc.items():
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise TypeError(f"unsupported BSON value for {key!r}: {value!r}")
        if isinstance(value, int):
            body += b"\x10" + _bson_cstring(key) + struct.pack("<i", value)
        else:
            raw = value.encode()
            body += b"\x02" + _bson_cstring(key) + struct.pack("<i", len(raw) + 1) + raw + b"\0"
    return struct.pack("<i", len(body) + 5) + bytes(body) + b"\0"


def encode_op_msg(doc: dict[str, int | str], request_id: int = 1) -> bytes:
    """Wrap ``doc`` as an OP_MSG (flags 0, one kind-0 section)."""
    payload = struct.pack("<I", 0) + b"\x00" + encode_bson(doc)
    return struct.pack("<iiii", 16 + len(payload), request_id, 0, _OP_MSG) + payload


def reply_ok(message: bytes) -> bool:
    """Tell whether an OP_MSG reply's body document has ``ok`` equal to 1."""
    if len(message) < 21:
        return False
    (opcode,) = struct.unpack_from("<i", message, 12)
    if opcode != _OP_MSG or message[20] != 0:
        return False
    doc = message[21:]
    (size,) = struct.unpack_from("<i", doc, 0)
    pos, end = 4, min(size, len(doc)) - 1
    while pos < end:
        kind = doc[pos]
        name_end = doc.index(b"\0", pos + 1)
        name = doc[pos + 1 : name_end]
        pos = name_end + 1
        if name == b"ok":
            if kind == 0x01:
                return bool(struct.unpack_from("<d", doc, pos)[0] == 1.0)
            if kind in (0x10, 0x12):
                return bool(struct.unpack_from("<i" if kind == 0x10 else "<q", doc, pos)[0] == 1)
            return False
        if kind in _BSON_FIXED_SIZES:
            pos += _BSON_FIXED_SIZES[kind]
        elif kind in (0x02, 0x0D, 0x0E):
            pos += 4 + struct.unpack_from("<i", doc, pos)[0]
        elif kind in (0x03, 0x04):
            pos += struct.unpack_from("<i", doc, pos)[0]
        elif kind == 0x05:
            pos += 5 + struct.unpack_from("<i", doc, pos)[0]
        else:
            return False
    return False


def _recv_exact(sock: socket.socket, count: int) -> bytes:
    data = bytearray()
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("server closed the connection")
        data += chunk
    return bytes(data)


def wire_ping(port: int, timeout: float = 5.0) -> bool:
    """Send ``{ping: 1}`` to ``127.0.0.1:port`` over the MongoDB wire protocol."""
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as sock:
        sock.sendall(encode_op_msg({"ping": 1, "$db": "admin"}))
        header = _recv_exact(sock, 4)
        (length,) = struct.unpack("<i", header)
        return reply_ok(header + _recv_exact(sock, length - 4))


# --- readiness checks ----------------------------------------------------------------------------


def check_mongo(port: int, timeout: float) -> int:
    """Ping the Mongo-wire server until it answers ok or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    have_pymongo = importlib.util.find_spec("pymongo") is not None
    while time.monotonic() < deadline:
        try:
            if have_pymongo:
                from pymongo import MongoClient

                client: MongoClient[dict[str, object]] = MongoClient(
                    f"mongodb://{LOOPBACK}:{port}/", serverSelectionTimeoutMS=2000
                )
                try:
                    if client.admin.command("ping").get("ok") == 1:
                        return EXIT_OK
                finally:
                    client.close()
            elif wire_ping(port):
                return EXIT_OK
        except Exception as exc:  # any failure means "not yet"; the last one is reported
            last = exc
        time.sleep(0.2)
    print(f"mongo ping on {LOOPBACK}:{port} failed: {last!r}", file=sys.stderr)
    return EXIT_FAILED


async def _list_topics(bootstrap: str, deadline: float) -> list[str]:
    """List topics, retrying until ``deadline`` (a ``time.monotonic()`` value) passes."""
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient

    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        try:
            await admin.start()
            topics: list[str] = await admin.list_topics()
            return topics
        except Exception:
            if time.monotonic() > deadline:
                raise
        finally:
            await admin.close()
        await asyncio.sleep(0.5)


def check_kafka(bootstrap: str, timeout: float) -> int:
    """List topics with aiokafka's admin client; EXIT_UNAVAILABLE when aiokafka is not importable."""
    if importlib.util.find_spec("aiokafka") is None:
        return EXIT_UNAVAILABLE
    import asyncio

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        topics = asyncio.run(_list_topics(bootstrap, time.monotonic() + timeout))
    except Exception as exc:
        print(f"kafka admin list_topics on {bootstrap} failed: {exc!r}", file=sys.stderr)
        return EXIT_FAILED
    print(f"kafka admin client (aiokafka) listed {len(topics)} topic(s)")
    return EXIT_OK


def check_http(url: str, timeout: float) -> int:
    """GET ``url`` until it answers 200 (Prometheus' and Alertmanager's ``/-/ready``)."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return EXIT_OK
                last = f"HTTP {response.status}"
        except (urllib.error.URLError, OSError) as exc:
            last = repr(exc)
        time.sleep(0.2)
    print(f"GET {url} did not answer 200: {last}", file=sys.stderr)
    return EXIT_FAILED


# --- command line --------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="serviceslib.py", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("cluster-id", help="print a new KRaft cluster id")
    p = sub.add_parser("choose-port", help="print PREFERRED if free on 127.0.0.1, else a free port")
    p.add_argument("preferred", type=int)
    p.add_argument("--avoid", type=int, action="append", default=[])
    p = sub.add_parser("spawn", help="start a detached process, write its pid")
    p.add_argument("--pid-file", type=Path, required=True)
    p.add_argument("--log-file", type=Path, required=True)
    p.add_argument("--cwd", type=Path, required=True)
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    p = sub.add_parser("alive", help="exit 0 when the pid in PID_FILE runs and matches MARKER")
    p.add_argument("pid_file", type=Path)
    p.add_argument("marker")
    p = sub.add_parser("stop", help="SIGTERM, wait, SIGKILL the pid in PID_FILE (if it matches)")
    p.add_argument("pid_file", type=Path)
    p.add_argument("marker")
    p.add_argument("--timeout", type=float, default=30.0)
    p = sub.add_parser("wait-tcp", help="wait until 127.0.0.1:PORT accepts connections")
    p.add_argument("port", type=int)
    p.add_argument("--timeout", type=float, required=True)
    p.add_argument("--pid-file", type=Path)
    p.add_argument("--marker", default="")
    p = sub.add_parser("check-kafka", help="list topics with aiokafka (exit 3 when not importable)")
    p.add_argument("bootstrap")
    p.add_argument("--timeout", type=float, required=True)
    p = sub.add_parser("check-mongo", help="ping a Mongo-wire server")
    p.add_argument("port", type=int)
    p.add_argument("--timeout", type=float, required=True)
    p = sub.add_parser("check-http", help="GET URL until it answers 200")
    p.add_argument("url")
    p.add_argument("--timeout", type=float, required=True)
    p = sub.add_parser("env", help="print the METRICSYNC_* lines")
    p.add_argument("kafka_port", type=int)
    p.add_argument("mongo_port", type=int)
    p.add_argument("--prometheus", type=int)
    p.add_argument("--prometheus-dir")
    p.add_argument("--alertmanager", type=int)
    p.add_argument("--alertmanager-dir")
    p.add_argument("--export", action="store_true")
    p = sub.add_parser("env-binaries", help="print the METRICSYNC_*_BIN lines")
    p.add_argument("--prometheus-dir")
    p.add_argument("--alertmanager-dir")
    p.add_argument("--export", action="store_true")
    args = parser.parse_args(argv)

    match args.command:
        case "cluster-id":
            print(kafka_cluster_id())
        case "choose-port":
            print(choose_port(args.preferred, args.avoid))
        case "spawn":
            cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
            print(spawn(cmd, pid_file=args.pid_file, log_file=args.log_file, cwd=args.cwd))
        case "alive":
            pid = read_pid(args.pid_file)
            return EXIT_OK if pid is not None and pid_matches(pid, args.marker) else EXIT_FAILED
        case "stop":
            pid = read_pid(args.pid_file)
            outcome = "not running" if pid is None else stop(pid, args.marker, args.timeout)
            args.pid_file.unlink(missing_ok=True)
            print(outcome if pid is None else f"{outcome} (pid {pid})")
        case "wait-tcp":
            pid = read_pid(args.pid_file) if args.pid_file else None
            return wait_tcp(args.port, timeout=args.timeout, pid=pid, marker=args.marker)
        case "check-kafka":
            return check_kafka(args.bootstrap, args.timeout)
        case "check-mongo":
            return check_mongo(args.port, args.timeout)
        case "check-http":
            return check_http(args.url, args.timeout)
        case "env":
            lines = env_lines(
                args.kafka_port,
                args.mongo_port,
                export=args.export,
                prometheus_port=args.prometheus,
                prometheus_dir=args.prometheus_dir,
                alertmanager_port=args.alertmanager,
                alertmanager_dir=args.alertmanager_dir,
            )
            print("\n".join(lines))
        case "env-binaries":
            print("\n".join(binary_lines(args.prometheus_dir, args.alertmanager_dir, export=args.export)))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
