"""`metricsync backup` while `serve` is writing, and `metricsync restore` into a data directory that a
new `serve` then answers from with the same numbers."""

from __future__ import annotations

import subprocess
import threading
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from metricsync.simulation.send import sign
from metricsync.simulation.team import SimulationPlan, plan_webhooks
from tests.support import scenario
from tests.support.embedded import Embedded
from tests.support.process import METRICSYNC, wait_until
from tests.support.webhooks import CREDENTIALS

pytestmark = pytest.mark.e2e


def metricsync(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([METRICSYNC, *args], capture_output=True, text=True, timeout=120, check=False)


def reports(server: Embedded) -> dict[str, object]:
    return {service: server.dora(service=service) for service in ("acme/shop", "acme/pay")}


def test_backup_while_serving_and_restore(tmp_path: Path) -> None:
    original = Embedded(tmp_path / "a")
    original.start()
    try:
        for request in scenario.requests():
            assert original.post(request).status_code == 202
        wait_until("the pipeline to catch up", original.caught_up)
        expected = reports(original)

        # other services' webhooks keep arriving while the backups are taken
        hooks = plan_webhooks(SimulationPlan(days=10, services=2), datetime(2026, 3, 5, tzinfo=UTC))
        stop = threading.Event()
        sent: list[int] = []

        def writer() -> None:
            with httpx.Client(base_url=original.base, timeout=10) as client:
                for hook in hooks:
                    if stop.is_set():
                        break
                    client.post(hook.path, content=hook.body, headers=sign(hook, CREDENTIALS))
                    sent.append(1)

        thread = threading.Thread(target=writer)
        thread.start()
        backups = [tmp_path / f"backup-{n}.sqlite3" for n in range(3)]
        try:
            for target in backups:
                done = metricsync("backup", str(target), "--data-dir", str(original.data_dir))
                assert done.returncode == 0, done.stderr
                assert "written to" in done.stderr
        finally:
            stop.set()
            thread.join(30)
        assert sent, "no webhook was sent while the backups ran"

        # restore refuses a data directory a server is using
        busy = metricsync("restore", str(backups[-1]), "--data-dir", str(original.data_dir))
        assert busy.returncode == 2
        assert "in use by another MetricSync process" in busy.stderr
    finally:
        original.stop()

    restored = Embedded(tmp_path / "b")
    done = metricsync("restore", str(backups[-1]), "--data-dir", str(restored.data_dir))
    assert done.returncode == 0, done.stderr
    again = metricsync("restore", str(backups[0]), "--data-dir", str(restored.data_dir))
    assert again.returncode == 0, again.stderr
    assert "previous database is kept as" in again.stderr
    restored.start()
    try:
        wait_until("the restored pipeline to catch up", restored.caught_up)
        assert reports(restored) == expected
    finally:
        restored.stop()


def test_restore_refuses_what_is_not_a_backup(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database" * 100)
    done = metricsync("restore", str(junk), "--data-dir", str(tmp_path / "data"))
    assert done.returncode == 2
    assert "is not a SQLite database" in done.stderr
    missing = metricsync("backup", str(tmp_path / "out.sqlite3"), "--data-dir", str(tmp_path / "empty"))
    assert missing.returncode == 2
    assert "no MetricSync database" in missing.stderr
