"""Real Prometheus and Alertmanager processes for tests, one per test with its own configuration.

The binaries come from `scripts/services` (built from the Go module proxy, cached by version):
`scripts/test` exports METRICSYNC_PROMETHEUS_BIN and
METRICSYNC_ALERTMANAGER_BIN (`scripts/services up --with prometheus,alertmanager`, or
`scripts/services build --with prometheus,alertmanager --export` for your own runs). Without them a
test fails in CI (CI=true or METRICSYNC_REQUIRE_SERVERS=1) and is skipped elsewhere.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.process import free_port

READY_TIMEOUT_S = 30.0


def _must_have_servers() -> bool:
    ci = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
    return ci or os.environ.get("METRICSYNC_REQUIRE_SERVERS", "") not in ("", "0")


def binary(variable: str) -> str:
    """The path in METRICSYNC_<X>_BIN; fails (CI) or skips the test when it is not there."""
    path = os.environ.get(variable, "")
    if path and os.access(path, os.X_OK):
        return path
    reason = (
        f"{variable} is {'not set' if not path else f'{path!r}, not an executable'}: run the tests with "
        'scripts/test, or eval "$(scripts/services build --with prometheus,alertmanager --export)"'
    )
    if _must_have_servers():
        pytest.fail(f"real server unavailable: {reason}", pytrace=False)
    pytest.skip(f"real server unavailable: {reason} (set CI=true to make this a failure)")


class Server:
    """A Prometheus or Alertmanager process on a free loopback port, output in a log file."""

    def __init__(self, name: str, args: Sequence[str], port: int, workdir: Path) -> None:
        self.name = name
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = workdir / f"{name}.log"
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(list(args), cwd=workdir, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        last = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited ({self.proc.returncode}) at start:\n{self.log_tail()}")
            try:
                response = httpx.get(f"{self.base}/-/ready", timeout=2)
                if response.status_code == 200:
                    return
                last = f"{response.status_code} {response.text[:200]}"
            except httpx.HTTPError as e:
                last = repr(e)
            time.sleep(0.1)
        raise AssertionError(f"{self.name} not ready after {READY_TIMEOUT_S}s (last: {last}):\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


def start_alertmanager(workdir: Path, config: dict[str, Any]) -> Server:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "alertmanager.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    port = free_port()
    args = [
        binary("METRICSYNC_ALERTMANAGER_BIN"),
        f"--config.file={workdir / 'alertmanager.yml'}",
        f"--storage.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",  # a single instance: no gossip port
        "--log.level=debug",
    ]
    return Server("alertmanager", args, port, workdir)


def post_alerts(alertmanager: Server, alerts: list[dict[str, Any]]) -> None:
    response = httpx.post(f"{alertmanager.base}/api/v2/alerts", json=alerts, timeout=10)
    assert response.status_code == 200, response.text


def start_prometheus(workdir: Path, config: dict[str, Any], rule_files: dict[str, str] | None = None) -> Server:
    """`rule_files`: file name -> YAML text, written next to the config and listed in it."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = dict(config)
    if rule_files:
        for name, text in rule_files.items():
            (workdir / name).write_text(text)
        config["rule_files"] = [str(workdir / name) for name in rule_files]
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    port = free_port()
    args = [
        binary("METRICSYNC_PROMETHEUS_BIN"),
        f"--config.file={workdir / 'prometheus.yml'}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    return Server("prometheus", args, port, workdir)


def query(prometheus: Server, expr: str) -> list[dict[str, Any]]:
    """An instant query through the HTTP API; fails the test on an error. The vector/matrix result."""
    response = httpx.get(f"{prometheus.base}/api/v1/query", params={"query": expr}, timeout=10)
    body = response.json()
    assert response.status_code == 200, f"{expr!r}: {response.text}"
    assert body["status"] == "success", f"{expr!r}: {response.text}"
    result: Any = body["data"]["result"]
    if body["data"]["resultType"] == "scalar":
        return [{"metric": {}, "value": result}]
    assert isinstance(result, list)
    return result


def targets_up(prometheus: Server) -> list[dict[str, Any]]:
    response = httpx.get(f"{prometheus.base}/api/v1/targets", timeout=10)
    active: list[dict[str, Any]] = response.json()["data"]["activeTargets"]
    return active


def wait_for(description: str, check: Callable[[], Any], timeout: float, interval: float = 0.25) -> Any:
    """Poll `check()` until it returns something truthy (returned) or fail with the description."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {description} (last: {last!r})")
