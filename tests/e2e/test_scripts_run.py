"""`scripts/run`, the first command a new user types: help, a taken port, bad arguments."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

RUN = Path(__file__).resolve().parents[2] / "scripts" / "run"


def test_help_prints_usage_and_starts_nothing() -> None:
    for flag in ("--help", "-h"):
        done = subprocess.run([str(RUN), flag], capture_output=True, text=True, timeout=30, check=False)
        assert done.returncode == 0
        assert "scripts/run --demo" in done.stdout
        assert "serving" not in done.stderr


def test_unknown_argument_is_refused() -> None:
    done = subprocess.run([str(RUN), "--dmeo"], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2
    assert "unknown argument '--dmeo'" in done.stderr


def test_taken_port_fails_fast_and_nothing_is_sent_to_its_owner() -> None:
    with socket.socket() as owner:
        owner.bind(("127.0.0.1", 0))
        owner.listen()
        owner.setblocking(False)
        port = owner.getsockname()[1]
        started = time.monotonic()
        done = subprocess.run(
            [str(RUN), "--demo", "--port", str(port)], capture_output=True, text=True, timeout=60, check=False
        )
        took = time.monotonic() - started
        assert done.returncode == 1, done.stderr
        assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
        assert f"--port {port + 1}" in done.stderr
        assert took < 15, f"took {took:.1f} s"
        with pytest.raises(BlockingIOError):
            owner.accept()  # no demo webhook (nor anything else) came to the other program
