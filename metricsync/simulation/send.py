"""`metricsync simulate`: post the team's timeline (metricsync.simulation.team), signed, to a running
MetricSync, one request at a time, and tally the answers (accepted, duplicate, ignored, refused,
failed), also when the run aborts, with the command that resumes it (`--as-of`, `--resume-from`)."""

from __future__ import annotations

import http.client
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TextIO
from urllib.parse import urlsplit

import orjson

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


def _answer(status: int, detail: bytes) -> str:
    """How one webhook was answered: accepted, duplicate or ignored (202), refused (4xx), failed (5xx)."""
    if status in (200, 202):
        try:
            said = orjson.loads(detail).get("status")
        except (orjson.JSONDecodeError, AttributeError):
            said = None
        return said if said in ("accepted", "duplicate", "ignored") else "accepted"
    return "refused" if status < 500 else "failed"


def tally_line(tally: Mapping[str, int]) -> str:
    acknowledged = sum(tally.get(k, 0) for k in ("accepted", "duplicate", "ignored"))
    return (
        f"acknowledged {acknowledged} (accepted {tally.get('accepted', 0)}, duplicate {tally.get('duplicate', 0)}, "
        f"ignored {tally.get('ignored', 0)}), refused {tally.get('refused', 0)}, failed {tally.get('failed', 0)}"
    )


def run_simulation(
    url: str,
    plan: SimulationPlan,
    settings: Settings,
    out: TextIO,
    resume_from: int = 0,
    as_of: datetime | None = None,
) -> int:
    """Send the plan's webhooks; the tally of answers is printed also when the run aborts, with the
    command that resumes it (the same `--as-of` gives the same webhooks, so the same delivery ids)."""
    now = (as_of or datetime.now(UTC)).replace(microsecond=0)
    hooks = planned_webhooks(plan, now)
    target = urlsplit(url)
    if target.scheme not in ("http", "https") or not target.hostname:
        raise MetricSyncError(f"--url {url!r} is not an http(s) URL")
    if not 0 <= resume_from <= len(hooks):
        raise MetricSyncError(f"--resume-from must be between 0 and {len(hooks)} (the plan's webhooks)")
    creds = credentials(settings)
    conn_cls = http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
    conn = conn_cls(target.hostname, target.port, timeout=30)
    prefix = target.path.rstrip("/")
    sources = ",".join(sorted(plan.sources))
    stamp = now.isoformat().replace("+00:00", "Z")
    print(
        f"simulating {plan.services} services over {plan.days} days ({sources}; seed {plan.seed}) as of {stamp}: "
        f"{len(hooks)} webhooks to {url}" + (f", from #{resume_from + 1}" if resume_from else ""),
        file=out,
    )
    tally: dict[str, int] = {}
    done = resume_from  # answered without a 5xx, in order: a resume starts after it
    first_failed: int | None = None
    started = time.perf_counter()
    try:
        for n, hook in enumerate(hooks[resume_from:], resume_from + 1):
            try:
                conn.request("POST", prefix + hook.path, body=hook.body, headers=sign(hook, creds))
                response = conn.getresponse()
                detail = response.read()
            except OSError as e:
                tally["failed"] = tally.get("failed", 0) + 1
                raise MetricSyncError(f"cannot reach MetricSync at {url}: {e}") from e
            answer = _answer(response.status, detail)
            tally[answer] = tally.get(answer, 0) + 1
            if response.status >= 400:
                print(f"  {hook.path} answered {response.status}: {detail.decode(errors='replace')[:200]}", file=out)
                if response.status == 401:
                    print("  set the same METRICSYNC_*_SECRET/TOKEN here as on the server", file=out)
                    return 1
            if answer == "failed":
                first_failed = first_failed or n  # a resume sends it (and what follows) again
            elif first_failed is None:
                done = n
            if n % 100 == 0 or n == len(hooks):
                print(f"  sent {n}/{len(hooks)}", file=out, flush=True)
    finally:
        conn.close()
        print(f"{tally_line(tally)} in {time.perf_counter() - started:.1f}s", file=out)
        if done < len(hooks):
            print(
                f"stopped after {done}/{len(hooks)}; resume with: metricsync simulate --url {url} --days {plan.days} "
                f"--services {plan.services} --seed {plan.seed} --sources {sources} "
                f"--as-of {stamp} --resume-from {done}",
                file=out,
            )
    print(f"done; see {url}/api/v1/dora, {url}/api/v1/lead-time, {url}/api/v1/insights", file=out)
    return 0 if not tally.get("refused") and not tally.get("failed") else 1
