"""Scenarios 1 and 2 (and ingest's part of 7): webhook ingest under wrk, beside the bare-Starlette ceiling.

The ceiling app and MetricSync run side by side and their runs alternate, so both see the same
background load; each MetricSync run is divided by the ceiling run just before it. Both are served
by `metricsync.web.serving.serve_app` with the same number of processes: `metricsync ingest` with
METRICSYNC_INGEST_WORKERS (bench --ingest-workers, default ingest's own default), `metricsync
serve` with one (embedded mode is one process).
"""

from __future__ import annotations

import json
import statistics
import time
import urllib.request
from contextlib import ExitStack

from bench.context import SECRETS_ENV, BenchContext
from bench.load import Load
from bench.procs import Proc, RssSampler, free_port, wait_http
from bench.results import Figure, Target
from bench.wrk import WrkResult
from metricsync.settings import Settings

DISTRIBUTED = "1 ingest, distributed"
EMBEDDED = "2 ingest, embedded"
MEMORY = "7 memory"
WARMUP_SECONDS = 2.0


def _serve(
    ctx: BenchContext, stack: ExitStack, name: str, args: list[str], env: dict[str, str], module: str = "metricsync.cli"
) -> tuple[str, Proc]:
    port = free_port()
    env = {**env, "METRICSYNC_PORT": str(port), "METRICSYNC_LOG_LEVEL": "WARNING"}
    proc = Proc(args, env, ctx.path(f"logs/{name}.log"), module)
    stack.callback(proc.stop)
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/healthz", proc)
    return base, proc


def _bare(ctx: BenchContext, stack: ExitStack, workers: int = 1) -> str:
    base, _ = _serve(ctx, stack, "bare", [], {WORKERS_VAR: str(workers)}, "bench.bare")
    return base


WORKERS_VAR = "METRICSYNC_INGEST_WORKERS"


def ingest_workers(ctx: BenchContext) -> int:
    default: int = Settings.model_fields["ingest_workers"].default
    return ctx.sizes.ingest_workers or default


def run_distributed(ctx: BenchContext) -> None:
    sizes = ctx.sizes
    workers = ingest_workers(ctx)
    prefix = f"bench-{ctx.run_id}-ingest"
    env = {**ctx.distributed_env(prefix), WORKERS_VAR: str(workers)}
    Proc(["init"], env, ctx.path("logs/ingest-init.log")).wait(120)
    with ExitStack() as stack:
        bare = _bare(ctx, stack, workers)
        ingest, ingest_proc = _serve(ctx, stack, "ingest", ["ingest"], env)
        load = Load(ctx, "ingest")
        load.full(bare, WARMUP_SECONDS)
        load.full(ingest, WARMUP_SECONDS)
        ceilings: list[WrkResult] = []
        runs: list[WrkResult] = []
        with RssSampler(ingest_proc.pid, tree=True) as rss:
            for _ in range(sizes.runs):
                ceilings.append(load.full(bare, sizes.load_seconds))
                runs.append(load.full(ingest, sizes.load_seconds))
            peak = statistics.median(r.rate for r in runs)
            paced: list[WrkResult] = []
            paced_ceiling: list[WrkResult] = []
            for _ in range(sizes.runs):
                paced_ceiling.append(load.paced(bare, peak / 2, sizes.paced_seconds))
                paced.append(load.paced(ingest, peak / 2, sizes.paced_seconds))
    ctx.add(Figure(DISTRIBUTED, "throughput", "webhooks/s", [r.rate for r in runs], Target(">=", 10_000)))
    ctx.add(Figure(DISTRIBUTED, "bare-Starlette ceiling", "webhooks/s", [r.rate for r in ceilings]))
    ctx.add(
        Figure(
            DISTRIBUTED,
            "share of ceiling",
            "%",
            [100 * r.rate / c.rate for r, c in zip(runs, ceilings, strict=True)],
            Target(">=", 50),
        )
    )
    ctx.add(Figure(DISTRIBUTED, "p99 latency at full load", "ms", [r.p99_ms for r in runs]))
    ctx.add(Figure(DISTRIBUTED, "ceiling p99 latency at full load", "ms", [r.p99_ms for r in ceilings]))
    ctx.add(Figure(DISTRIBUTED, "paced rate (50 % of peak)", "webhooks/s", [r.rate for r in paced]))
    ctx.add(Figure(DISTRIBUTED, "p50 latency at 50 % of peak", "ms", [r.p50_ms for r in paced]))
    ctx.add(Figure(DISTRIBUTED, "p99 latency at 50 % of peak", "ms", [r.p99_ms for r in paced], Target("<", 20)))
    ctx.add(Figure(DISTRIBUTED, "ceiling p99 at the same paced rate", "ms", [r.p99_ms for r in paced_ceiling]))
    if workers == 1:
        ctx.add(Figure(MEMORY, "ingest RSS under load (peak)", "MB", [rss.peak], Target("<", 150)))
    else:
        ctx.add(Figure(MEMORY, f"ingest RSS under load (peak, largest of {workers} processes)", "MB", [rss.peak]))
        ctx.add(
            Figure(
                MEMORY,
                f"ingest memory under load, all {workers} processes + supervisor (PSS sum, peak)",
                "MB",
                [rss.peak_total],
                Target("<", 150),
            )
        )
    processes = "1 process" if workers == 1 else f"{workers} processes sharing the port (SO_REUSEPORT)"
    ctx.note(
        DISTRIBUTED,
        f"Worker processes: {workers} (METRICSYNC_INGEST_WORKERS), for MetricSync and for the ceiling alike.",
    )
    ctx.note(
        DISTRIBUTED,
        f"`metricsync ingest` (uvicorn, {processes}, uvloop + httptools) publishing to a private Kafka "
        f"(topic with 8 partitions, acks=all, idempotent producer). Load: wrk, 1 thread, {sizes.connections} "
        f"keep-alive connections, {sizes.load_seconds:.0f} s per run, the real push payload "
        f"(metricsync/templates/{'push__single_commit.json'}, 8.5 kB) signed once, a unique X-GitHub-Delivery "
        "per request; every answer checked 2xx. Ceiling: `python -m bench.bare` (reads the body, "
        "answers 202), served by the same `serve_app` with the same worker count; runs alternate ceiling/MetricSync.",
    )
    ctx.note(
        DISTRIBUTED,
        "Latency at 50 % of peak: wrk paced with a Lua `delay()` per request (calibrated by one 3 s run) "
        f"at half the median peak ({peak:,.0f}/s); the ceiling app is paced at the same rate, which shows "
        "the latency floor of the machine (wrk, server and Kafka share 2 busy cores).",
    )


def _status(base: str) -> dict[str, object]:
    with urllib.request.urlopen(f"{base}/api/v1/status", timeout=5) as response:
        data: dict[str, object] = json.loads(response.read())
        return data


def _catch_up_seconds(base: str, timeout: float = 120.0) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if _status(base).get("caught_up") is True:
            return time.perf_counter() - started
        time.sleep(0.01)
    raise RuntimeError(f"{base} not caught up {timeout}s after the load stopped")


def run_embedded(ctx: BenchContext) -> None:
    sizes = ctx.sizes
    data_dir = ctx.path("embedded/data")
    env = {**SECRETS_ENV, "METRICSYNC_DATA_DIR": str(data_dir)}
    with ExitStack() as stack:
        bare = _bare(ctx, stack, workers=1)  # `metricsync serve` is one process
        serve, serve_proc = _serve(ctx, stack, "serve", ["serve"], env)
        load = Load(ctx, "embedded")
        load.full(bare, WARMUP_SECONDS)
        load.full(serve, WARMUP_SECONDS)
        _catch_up_seconds(serve)
        ceilings: list[WrkResult] = []
        runs: list[WrkResult] = []
        catch_up: list[float] = []
        with RssSampler(serve_proc.pid) as rss:
            for _ in range(sizes.runs):
                ceilings.append(load.full(bare, sizes.load_seconds))
                runs.append(load.full(serve, sizes.load_seconds))
                catch_up.append(_catch_up_seconds(serve))
        stored = _status(serve)
    ctx.add(Figure(EMBEDDED, "throughput", "webhooks/s", [r.rate for r in runs], Target(">=", 3_000)))
    ctx.add(Figure(EMBEDDED, "bare-Starlette ceiling", "webhooks/s", [r.rate for r in ceilings]))
    ctx.add(
        Figure(EMBEDDED, "share of ceiling", "%", [100 * r.rate / c.rate for r, c in zip(runs, ceilings, strict=True)])
    )
    ctx.add(Figure(EMBEDDED, "p99 latency at full load", "ms", [r.p99_ms for r in runs]))
    ctx.add(Figure(EMBEDDED, "ceiling p99 latency at full load", "ms", [r.p99_ms for r in ceilings]))
    ctx.add(Figure(EMBEDDED, "caught up after the load stops", "s", catch_up, Target("<=", 1.0)))
    ctx.add(Figure(MEMORY, "serve (embedded) RSS under load (peak)", "MB", [rss.peak]))
    ctx.note(
        EMBEDDED,
        f"`metricsync serve` (1 process; SQLite WAL, synchronous=FULL, group commit; normalizer and engine "
        "in-process; ceiling also 1 process), "
        f"same wrk load as scenario 1 ({sizes.load_seconds:.0f} s runs). Catch-up: after each run, "
        "GET /api/v1/status every 10 ms until `caught_up` is true; time from wrk's end. "
        f"At the end the store held {stored.get('raw_deliveries')} deliveries and {stored.get('events')} events.",
    )
