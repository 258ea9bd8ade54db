"""scripts/services: its pure helpers and the parts of its lifecycle that need no server."""

from __future__ import annotations

import base64
import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scripts import serviceslib

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES = REPO_ROOT / "scripts" / "services"


def test_cluster_id_looks_like_kafka_uuid() -> None:
    ids = {serviceslib.kafka_cluster_id() for _ in range(200)}

    assert len(ids) == 200
    for cluster_id in ids:
        assert len(cluster_id) == 22
        assert not cluster_id.startswith("-")
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_choose_port_keeps_a_free_preferred_port_and_replaces_a_taken_one() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]

        other = serviceslib.choose_port(busy)
        assert other != busy
        assert serviceslib.port_is_free(other)

    free = serviceslib.free_port()
    assert serviceslib.choose_port(free) == free
    assert serviceslib.choose_port(free, avoid=[free]) != free
    assert serviceslib.choose_port(0) > 0


@pytest.mark.parametrize(
    ("export", "expected"),
    [
        pytest.param(
            False,
            ["METRICSYNC_KAFKA_BOOTSTRAP=127.0.0.1:9092", "METRICSYNC_MONGO_URI=mongodb://127.0.0.1:27017/"],
            id="plain",
        ),
        pytest.param(
            True,
            [
                "export METRICSYNC_KAFKA_BOOTSTRAP=127.0.0.1:9092",
                "export METRICSYNC_MONGO_URI=mongodb://127.0.0.1:27017/",
            ],
            id="export",
        ),
    ],
)
def test_env_lines(export: bool, expected: list[str]) -> None:
    assert serviceslib.env_lines(9092, 27017, export=export) == expected


def test_op_msg_ping_encoding() -> None:
    message = serviceslib.encode_op_msg({"ping": 1, "$db": "admin"}, request_id=7)

    length, request_id, response_to, opcode = struct.unpack_from("<iiii", message)
    assert (length, request_id, response_to, opcode) == (len(message), 7, 0, 2013)
    assert message[16:21] == b"\x00\x00\x00\x00\x00"  # flag bits, section kind 0
    body = message[21:]
    assert body == (
        struct.pack("<i", len(body))
        + b"\x10ping\x00"
        + struct.pack("<i", 1)
        + b"\x02$db\x00"
        + struct.pack("<i", 6)
        + b"admin\x00"
        + b"\x00"
    )


def _reply(body: bytes) -> bytes:
    doc = struct.pack("<i", len(body) + 5) + body + b"\x00"
    payload = struct.pack("<I", 0) + b"\x00" + doc
    return struct.pack("<iiii", 16 + len(payload), 1, 1, 2013) + payload


@pytest.mark.parametrize(
    ("body", "ok"),
    [
        pytest.param(b"\x01ok\x00" + struct.pack("<d", 1.0), True, id="double-1"),
        pytest.param(b"\x01ok\x00" + struct.pack("<d", 0.0), False, id="double-0"),
        pytest.param(b"\x10ok\x00" + struct.pack("<i", 1), True, id="int32-1"),
        pytest.param(
            b"\x02errmsg\x00" + struct.pack("<i", 3) + b"no\x00" + b"\x01ok\x00" + struct.pack("<d", 1.0),
            True,
            id="after-a-string",
        ),
        pytest.param(b"\x10n\x00" + struct.pack("<i", 1), False, id="no-ok-field"),
    ],
)
def test_reply_ok(body: bytes, ok: bool) -> None:
    assert serviceslib.reply_ok(_reply(body)) is ok


def test_reply_ok_rejects_other_opcodes() -> None:
    reply = bytearray(_reply(b"\x01ok\x00" + struct.pack("<d", 1.0)))
    reply[12:16] = struct.pack("<i", 1)  # OP_REPLY
    assert serviceslib.reply_ok(bytes(reply)) is False


def _services(*args: str, run_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "METRICSYNC_SERVICES_DIR": str(run_dir), "METRICSYNC_PYTHON": sys.executable}
    return subprocess.run([str(SERVICES), *args], env=env, capture_output=True, text=True, timeout=60, check=False)


def test_down_twice_status_and_env_without_servers(tmp_path: Path) -> None:
    for _ in range(2):
        down = _services("down", run_dir=tmp_path)
        assert down.returncode == 0, down.stderr
        assert "kafka: not running" in down.stderr

    status = _services("status", run_dir=tmp_path)
    assert status.returncode == 3
    assert status.stdout.splitlines() == ["kafka: not running", "ferretdb: not running"]

    env = _services("env", run_dir=tmp_path)
    assert env.returncode == 1
    assert "scripts/services up" in env.stderr


def test_stale_pid_file_is_not_trusted(tmp_path: Path) -> None:
    """A pid file naming some unrelated live process (here: pytest) must not count as running."""
    (tmp_path / "kafka").mkdir()
    (tmp_path / "kafka" / "pid").write_text(f"{os.getpid()}\n")

    status = _services("status", run_dir=tmp_path)
    assert status.stdout.splitlines()[0] == "kafka: not running"

    down = _services("down", run_dir=tmp_path)
    assert down.returncode == 0
    assert not (tmp_path / "kafka" / "pid").exists()


def test_env_lines_with_prometheus_and_alertmanager() -> None:
    lines = serviceslib.env_lines(
        9092,
        27017,
        export=True,
        prometheus_port=9090,
        prometheus_dir="/c/prometheus/v0.316.0",
        alertmanager_port=9095,
        alertmanager_dir="/c/alertmanager/v0.35.0",
    )
    assert lines[2:] == [
        "export METRICSYNC_PROMETHEUS_URL=http://127.0.0.1:9090",
        "export METRICSYNC_ALERTMANAGER_URL=http://127.0.0.1:9095",
        "export METRICSYNC_PROMETHEUS_BIN=/c/prometheus/v0.316.0/prometheus",
        "export METRICSYNC_ALERTMANAGER_BIN=/c/alertmanager/v0.35.0/alertmanager",
    ]


def test_up_and_build_refuse_unknown_extras(tmp_path: Path) -> None:
    for command in ("up", "build"):
        result = _services(command, "--with", "prometheus,grafana", run_dir=tmp_path)
        assert result.returncode == 1
        assert "unknown server 'grafana'" in result.stderr


def _helper(*args: str) -> subprocess.CompletedProcess[str]:
    """``helper ARGS`` as scripts/services runs it: output captured (as by a shell's $(...))."""
    lib = REPO_ROOT / "scripts" / "serviceslib.py"
    return subprocess.run([sys.executable, str(lib), *args], capture_output=True, text=True, timeout=30, check=False)


def _wait_for_line(log: Path, text: str) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        content = log.read_text() if log.exists() else ""
        if text in content:
            return content
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never reached {log}: {content!r}")


def test_spawn_records_how_a_silent_service_ended(tmp_path: Path) -> None:
    """A service that dies without a word still leaves a line saying how (the CI run of 2026-12-03)."""
    log, pid_file = tmp_path / "svc.log", tmp_path / "pid"

    spawned = _helper(
        "spawn", "--pid-file", str(pid_file), "--log-file", str(log), "--cwd", str(tmp_path), "--", "sh", "-c", "exit 3"
    )

    assert spawned.returncode == 0, spawned.stderr
    pid = int(spawned.stdout)
    assert pid_file.read_text() == f"{pid}\n"
    content = _wait_for_line(log, "exited with status 3")
    assert content.startswith("[scripts/services ")
    assert f"sh (pid {pid}) exited with status 3" in content


def test_spawn_returns_at_once_and_a_stop_is_recorded(tmp_path: Path) -> None:
    log, pid_file = tmp_path / "svc.log", tmp_path / "pid"
    marker = str(tmp_path / "marker-file")
    started = time.monotonic()

    spawned = _helper(
        "spawn",
        "--pid-file",
        str(pid_file),
        "--log-file",
        str(log),
        "--cwd",
        str(tmp_path),
        "--",
        sys.executable,
        "-c",
        "import time; print('up', flush=True); time.sleep(60)",
        marker,
    )

    assert spawned.returncode == 0, spawned.stderr
    assert time.monotonic() - started < 10  # the watcher holds none of the caller's pipes
    assert _helper("alive", str(pid_file), marker).returncode == 0
    _wait_for_line(log, "up")

    stopped = _helper("stop", str(pid_file), marker, "--timeout", "10")

    assert stopped.stdout.startswith("stopped (pid ")
    assert "python" in _wait_for_line(log, "killed by SIGTERM")


def test_spawn_of_a_missing_binary_fails_loudly(tmp_path: Path) -> None:
    spawned = _helper(
        "spawn",
        "--pid-file",
        str(tmp_path / "pid"),
        "--log-file",
        str(tmp_path / "log"),
        "--cwd",
        str(tmp_path),
        "--",
        str(tmp_path / "no-such-binary"),
    )

    assert spawned.returncode == 1
    assert "could not start" in spawned.stderr
    assert "no-such-binary" in spawned.stderr
    assert not (tmp_path / "pid").exists()


@pytest.mark.parametrize(
    ("returncode", "text"),
    [
        (0, "exited with status 0"),
        (2, "exited with status 2"),
        (-9, "killed by SIGKILL"),
        (-200, "killed by signal 200"),
    ],
)
def test_exit_description(returncode: int, text: str) -> None:
    assert serviceslib.exit_description(returncode) == text
