"""`metricsync simulate`: post the team's timeline (metricsync.simulation.team), signed, to a running
MetricSync, one request at a time, and summarise the answers."""

from __future__ import annotations

import http.client
import time
from datetime import UTC, datetime
from typing import TextIO
from urllib.parse import urlsplit

from metricsync.settings import Settings
from metricsync.simulation.signing import Credentials, signed_headers
from metricsync.simulation.sources import planned_webhooks
from metricsync.simulation.team import SimulationPlan, Webhook
from schemas.errors import MetricSyncError

USER_AGENT = "metricsync-simulate"


def credentials(settings: Settings) -> Credentials:
    """The secrets of this process's settings: the simulator signs as the server it targets verifies."""
    return Credentials.of(settings.ingest)


def sign(hook: Webhook, creds: Credentials) -> dict[str, str]:
    """The request headers of one simulated webhook."""
    return signed_headers(hook.source, hook.body, creds, {"User-Agent": USER_AGENT, **hook.headers})


def run_simulation(url: str, plan: SimulationPlan, settings: Settings, out: TextIO, now: datetime | None = None) -> int:
    hooks = planned_webhooks(plan, now or datetime.now(UTC))
    target = urlsplit(url)
    if target.scheme not in ("http", "https") or not target.hostname:
        raise MetricSyncError(f"--url {url!r} is not an http(s) URL")
    creds = credentials(settings)
    conn_cls = http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
    conn = conn_cls(target.hostname, target.port, timeout=30)
    prefix = target.path.rstrip("/")
    sources = ",".join(sorted(plan.sources))
    print(
        f"simulating {plan.services} services over {plan.days} days ({sources}; seed {plan.seed}): "
        f"{len(hooks)} webhooks to {url}",
        file=out,
    )
    counts: dict[int, int] = {}
    started = time.perf_counter()
    for n, hook in enumerate(hooks, 1):
        try:
            conn.request("POST", prefix + hook.path, body=hook.body, headers=sign(hook, creds))
            response = conn.getresponse()
            detail = response.read()
        except OSError as e:
            raise MetricSyncError(f"cannot reach MetricSync at {url}: {e}") from e
        counts[response.status] = counts.get(response.status, 0) + 1
        if response.status >= 400:
            print(f"  {hook.path} answered {response.status}: {detail.decode(errors='replace')[:200]}", file=out)
            if response.status == 401:
                print("  set the same METRICSYNC_*_SECRET/TOKEN here as on the server", file=out)
                return 1
        if n % 100 == 0 or n == len(hooks):
            print(f"  sent {n}/{len(hooks)}", file=out, flush=True)
    conn.close()
    elapsed = time.perf_counter() - started
    summary = ", ".join(f"{status}: {count}" for status, count in sorted(counts.items()))
    print(f"done in {elapsed:.1f}s ({summary}); see {url}/api/v1/dora", file=out)
    return 0 if all(status < 400 for status in counts) else 1
