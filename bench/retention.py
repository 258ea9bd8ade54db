"""Scenario 7, worker memory as history grows: one engine fed a history at a fixed event rate, with
the retention (docs/metrics.md, "Retention") pruning as it goes, in a child process of its own so its
RSS is the engine's alone.

    python -m bench.retention --events 1000000 --days 1460 --retention-days 400

prints one JSON line: RSS after the build (MB), peak RSS, events kept, seconds. A service holds at
most 1.25 retentions of history (then it is pruned to one), so the peak is reached once the history
passes 500 days and stays there however long it grows. The same service mix
and rate as scenario 4-5 (`workload.MixedWorkload`, 500 services), so 10,000 events span 14.6 days and
1,000,000 span 4 years: without a retention the second would hold 100 times the first.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import orjson

from bench.context import BenchContext
from bench.procs import rss_mb
from bench.results import Figure, Target
from metrics_worker.engine import EngineConfig, MetricEngine
from metricsync.simulation.workload import MixedWorkload
from normalizer.mapping import map_delivery
from schemas.events import UnifiedEvent

log = logging.getLogger(__name__)

MEMORY = "7 memory"
SERVICES = 500
EVENTS_PER_DAY = 1_000_000 / (4 * 365)  # ~685 a day over 500 services
RETENTION_DAYS = 400
CHUNK = 20_000


def build(
    events: int, days: float, retention_days: float, services: int, end: datetime | None = None
) -> dict[str, float]:
    """The engine after `events` over `days` ending at `end` (default: now), pruned to the retention."""
    from metricsync.settings import Settings

    end = end or datetime.now(UTC).replace(microsecond=0)
    rules = Settings().mapping_rules()
    engine = MetricEngine(EngineConfig(retention=timedelta(days=retention_days) if retention_days else None))
    started = time.perf_counter()
    chunk: list[UnifiedEvent] = []
    applied = 0
    halfway: dict[str, float] = {}
    size = max(1, min(CHUNK, events // 20))  # small histories too get pruned along the way
    for generated in MixedWorkload(services, events, end=end, days=days, prefix="mem"):
        chunk.extend(map_delivery(generated.delivery, rules))
        if len(chunk) >= size:
            engine.apply_many(chunk)
            engine.prune(end)
            applied += len(chunk)
            chunk = []
            if not halfway and applied >= events // 2:
                peak = rss_mb(os.getpid(), "VmHWM")
                halfway = {"half_events": applied, "half_kept": _kept(engine), "half_peak_mb": peak}
    engine.apply_many(chunk)
    engine.prune(end)
    applied += len(chunk)
    seconds = time.perf_counter() - started
    chunk = []
    return {
        "events": applied,
        "kept": _kept(engine),
        "rss_mb": rss_mb(os.getpid()),
        "peak_mb": rss_mb(os.getpid(), "VmHWM"),
        "seconds": seconds,
        **halfway,
    }


def _kept(engine: MetricEngine) -> int:
    """Events the engine holds (their ids, for dedup), after a full collection."""
    gc.collect()
    kept = sum(len(engine.export_service(s.service)["seen"]) for s in engine.services())
    gc.collect()
    return kept


def _command(events: int, days: float, retention_days: float, services: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bench.retention",
        f"--events={events}",
        f"--days={days}",
        f"--retention-days={retention_days}",
        f"--services={services}",
    ]


def _children(commands: list[list[str]], timeout: float) -> list[dict[str, float]]:
    """Run the builds side by side (RSS does not depend on sharing the cores; the time does, and is
    only reported), each printing its result as its last line."""
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for cmd in commands]
    results: list[dict[str, float]] = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(proc.args)} exited {proc.returncode}: {err.decode()[-2000:]}")  # type: ignore[arg-type]
        results.append(orjson.loads(out.splitlines()[-1]))
    return results


def run(ctx: BenchContext) -> None:
    """Peak RSS at the small history, and in one child at half the large one and at the large one (both
    longer than 1.25 retentions): bounded means the last two are about equal."""
    sizes = ctx.sizes
    services = min(SERVICES, max(1, sizes.history_small // 20))
    rate = EVENTS_PER_DAY * services / SERVICES
    small, large = sizes.history_small, sizes.history_large
    commands = [_command(events, events / rate, RETENTION_DAYS, services) for events in (small, large)]
    small_out, large_out = _children(commands, timeout=1200)
    rows = [
        (small, small_out["events"], small_out["kept"], small_out["peak_mb"], small_out),
        (large // 2, large_out["half_events"], large_out["half_kept"], large_out["half_peak_mb"], None),
        (large, large_out["events"], large_out["kept"], large_out["peak_mb"], large_out),
    ]
    for nominal, events, kept, peak, out in rows:
        days = events / rate
        end_rss = f"; RSS at the end {out['rss_mb']:,.0f} MB, built in {out['seconds']:,.0f} s" if out else ""
        log.info("  %d events over %.0f days: kept %d, peak RSS %.0f MB%s", events, days, kept, peak, end_rss)
        note = f"{days:,.0f} days; {kept:,.0f} events kept{end_rss}"
        name = f"engine peak RSS, {nominal:,} events at {rate:,.0f}/day, retention {RETENTION_DAYS} days"
        ctx.add(Figure(MEMORY, name, "MB", [peak], note=note))
    ctx.note(
        MEMORY,
        f"Engine memory with the retention: `python -m bench.retention` child processes, "
        f"{services} services of `workload.MixedWorkload` mapped by the normalizer's mappers and applied "
        f"to one MetricEngine (retention {RETENTION_DAYS} days, pruned every {min(CHUNK, large // 20):,} events), at "
        f"{rate:,.0f} events a day, so {large:,} events span {large / rate:,.0f} days. Peak RSS is the "
        f"child's VmHWM; the {large // 2:,}-event figure is the large child's when its history reached "
        f"that size.",
    )
    half, full = rows[1][3], rows[2][3]
    ctx.add(
        Figure(
            MEMORY,
            f"engine peak RSS growth, {large // 2:,} -> {large:,} events of history",
            "x",
            [full / half],
            Target("<=", 1.1),
            "twice the history, both longer than 1.25 retentions: bounded means about 1x",
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--days", type=float, required=True)
    parser.add_argument("--retention-days", type=float, default=RETENTION_DAYS)
    parser.add_argument("--services", type=int, default=SERVICES)
    args = parser.parse_args()
    print(orjson.dumps(build(args.events, args.days, args.retention_days, args.services)).decode())


if __name__ == "__main__":
    main()
