"""Consumer services' readiness: the heartbeat file says "not ready" during a long outage, and
`metricsync healthcheck --ready` reads it."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiokafka.errors import KafkaConnectionError

from metricsync.cli import main
from metricsync.kafka.outage import Outage
from metricsync.services.lifecycle import heartbeat_text


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


class Service:
    def __init__(self, outage: Outage) -> None:
        self.outage = outage
        self.last_poll = 0.0


def test_the_heartbeat_says_not_ready_once_an_outage_lasts() -> None:
    clock = Clock()
    service = Service(Outage("worker", not_ready_after=30.0, clock=clock))
    assert heartbeat_text(service) == "ready"  # type: ignore[arg-type]
    service.outage.failed(KafkaConnectionError("refused"))
    clock.now = 31.0
    assert heartbeat_text(service).startswith("not ready: failing for 31s (1 failures")  # type: ignore[arg-type]
    service.outage.recovered()
    assert heartbeat_text(service) == "ready"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("content", "flags", "code"),
    [
        pytest.param("ready\n", ["--ready"], 0, id="ready"),
        pytest.param("not ready: failing for 40s\n", ["--ready"], 1, id="not-ready"),
        pytest.param("not ready: failing for 40s\n", [], 0, id="alive-while-not-ready"),
        pytest.param("", ["--ready"], 0, id="older-empty-file"),
    ],
)
def test_healthcheck_ready(tmp_path: Path, content: str, flags: list[str], code: int) -> None:
    beat = tmp_path / "heartbeat"
    beat.write_text(content)
    assert main(["healthcheck", "--file", str(beat), *flags]) == code
