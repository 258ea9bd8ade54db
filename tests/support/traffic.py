"""Webhooks sent in the background at a steady pace while a test breaks things, each retried (as
Alertmanager retries a 5xx) until acknowledged, with every answer counted."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import httpx
from pydantic import SecretStr

from metricsync.settings import Settings
from metricsync.simulation.send import credentials, sign
from metricsync.simulation.team import SimulationPlan, plan_webhooks
from tests.support.webhooks import ALERTMANAGER_TOKEN, GITHUB_SECRET, JENKINS_TOKEN, Request


def simulated(services: int, days: int, now: datetime, seed: int = 11) -> list[Request]:
    """The signed webhooks `metricsync simulate` would send for `services` over `days` up to `now`."""
    settings = Settings(
        github_secret=SecretStr(GITHUB_SECRET),
        jenkins_token=SecretStr(JENKINS_TOKEN),
        alertmanager_token=SecretStr(ALERTMANAGER_TOKEN),
    )
    hooks = plan_webhooks(SimulationPlan(days=days, services=services, seed=seed), now)
    return [Request(h.path, sign(h, credentials(settings)), h.body) for h in hooks]


@dataclass
class Traffic:
    """Posts `requests` to `base` from a thread, `rate` per second; a 5xx or a connection error is
    retried after `retry_after` seconds until the delivery is acknowledged (202)."""

    base: str
    requests: list[Request]
    rate: float = 40.0
    retry_after: float = 0.5
    answers: Counter[str] = field(default_factory=Counter)  # 202 statuses, "refused <code>", "error"
    acknowledged: list[str] = field(default_factory=list)  # delivery ids answered 202
    failures: list[str] = field(default_factory=list)  # answers that are not 202 and not retried (4xx)
    sent: int = 0
    _thread: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> Traffic:
        self._thread = threading.Thread(target=self._run, name="traffic", daemon=True)
        self._thread.start()
        return self

    def join(self, timeout: float = 300.0) -> None:
        assert self._thread is not None
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._stop.set()
            raise AssertionError(f"traffic not done after {timeout}s: {self.summary()}")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)

    @property
    def done(self) -> bool:
        return self._thread is not None and not self._thread.is_alive()

    def summary(self) -> str:
        return f"sent {self.sent}/{len(self.requests)} answers {dict(self.answers)}"

    def _run(self) -> None:
        gap = 1.0 / self.rate
        next_at = time.monotonic()
        with httpx.Client(base_url=self.base, timeout=30) as client:
            for request in self.requests:
                if self._stop.is_set():
                    return
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                next_at = max(next_at + gap, time.monotonic() - 1.0)
                self._deliver(client, request)
                self.sent += 1

    def _deliver(self, client: httpx.Client, request: Request) -> None:
        while not self._stop.is_set():
            try:
                response = client.post(request.path, content=request.body, headers=request.headers)
            except httpx.HTTPError:
                self.answers["error"] += 1
                time.sleep(self.retry_after)
                continue
            if response.status_code == 202:
                body = response.json()
                self.answers[str(body["status"])] += 1
                self.acknowledged.append(str(body["delivery_id"]))
                return
            if response.status_code >= 500:
                self.answers[f"refused {response.status_code}"] += 1
                time.sleep(self.retry_after)
                continue
            self.answers[f"answered {response.status_code}"] += 1
            self.failures.append(f"{request.path}: {response.status_code} {response.text[:200]}")
            return
