"""Scenarios 4 and 8 (and the worker's part of 7): the consumer services replaying a prepared topic.

The raw topic is filled straight from the bench (codec.encode_raw of `workload.MixedWorkload`
deliveries: pushes, deployments, incidents over N services), then `metricsync normalizer --burst`
turns it into events and `metricsync worker --burst` folds those into metric state, one process
each. A service's rate counts from its "started" log line (connected, group joined) to its exit
(caught up, offsets committed); process start-up is left out. Each normalizer run has its own
consumer group, database and events topic; each worker run its own group and database, all
reading run 1's events topic. Rebuild (`metricsync rebuild --distributed`) re-derives run 1's
database from its raw log.
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime

import uvloop
from aiokafka import AIOKafkaProducer

from bench.context import BenchContext
from bench.procs import CpuMeter, Proc, RssSampler, endpoint_ports
from bench.results import Figure, Target
from metricsync.kafka.codec import encode_raw
from metricsync.simulation.workload import MixedWorkload

SCENARIO = "4 consumer services, per process"
REBUILD = "8 rebuild"
MEMORY = "7 memory"
_STARTED = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO \S+ (normalizer|worker) started", re.MULTILINE)
_REBUILT = re.compile(r"done: (\d+) events, (\d+) dead letters, (\d+) services in ([\d.]+)s")


async def _produce(bootstrap: str, topic: str, workload: MixedWorkload) -> tuple[int, int]:
    """Fill the raw topic; (deliveries, events they map to)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=1024 * 1024, compression_type=None
    )
    await producer.start()
    deliveries = events = 0
    try:
        pending = []
        for generated in workload:
            key, value, headers = encode_raw(generated.delivery)
            pending.append(await producer.send(topic, value=value, key=key, headers=headers))
            deliveries += 1
            events += generated.events
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return deliveries, events


def _service_seconds(proc: Proc, ended: float) -> float:
    """From the service's "started" log line to `ended` (time.time() at its exit)."""
    match = _STARTED.search(proc.log_path.read_text(errors="replace"))
    if match is None:
        raise RuntimeError(f"no 'started' line in {proc.log_path}:\n{proc.tail()}")
    started = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
    return max(ended - started, 1e-6)


def _ports(env: dict[str, str]) -> dict[str, int]:
    return endpoint_ports(env["METRICSYNC_KAFKA_BOOTSTRAP"], env["METRICSYNC_MONGO_URI"])


def _burst(ctx: BenchContext, name: str, env: dict[str, str], timeout: float) -> tuple[float, float, dict[str, float]]:
    """Run `metricsync <name> --burst`; (seconds of service time, peak RSS MB, CPU seconds used by
    the service and by each local server meanwhile)."""
    with CpuMeter(_ports(env)) as cpu:
        proc = Proc([name, "--burst"], env, ctx.path(f"logs/{env['METRICSYNC_MONGO_DB']}-{name}.log"))
        with RssSampler(proc.pid) as rss:
            proc.wait(timeout)
    return _service_seconds(proc, time.time()), rss.peak, cpu.used


def _cpu_figures(
    ctx: BenchContext, scenario: str, what: str, unit: str, count: int, runs: list[dict[str, float]]
) -> None:
    """CPU µs per item, of the service itself (start-up included) and of each local server."""
    for part in runs[0] if runs else {}:
        name = f"{what}: CPU of {'the process' if part == 'service' else part}"
        ctx.add(Figure(scenario, name, f"µs/{unit}", [used[part] / max(count, 1) * 1e6 for used in runs]))


def _prepare(ctx: BenchContext, tag: str, events: int, services: int) -> tuple[dict[str, str], int, int, float]:
    env = ctx.distributed_env(f"bench-{ctx.run_id}-{tag}")
    Proc(["init"], env, ctx.path(f"logs/{tag}-init.log")).wait(120)
    workload = MixedWorkload(services, events, end=datetime.now(UTC), prefix=f"{ctx.run_id}{tag}")
    started = time.perf_counter()
    deliveries, produced = uvloop.run(
        _produce(env["METRICSYNC_KAFKA_BOOTSTRAP"], env["METRICSYNC_RAW_TOPIC"], workload)
    )
    return env, deliveries, produced, time.perf_counter() - started


def run(ctx: BenchContext) -> None:
    sizes = ctx.sizes
    timeout = 900.0
    # worker memory with a small history first
    small_env, _, small_events, _ = _prepare(ctx, "small", sizes.history_small, min(sizes.pipeline_services, 500))
    _burst(ctx, "normalizer", small_env, timeout)
    _, small_rss, _ = _burst(ctx, "worker", small_env, timeout)

    env, deliveries, events, prepare_seconds = _prepare(ctx, "pipe", sizes.pipeline_events, sizes.pipeline_services)
    normalizer_rates: list[float] = []
    worker_rates: list[float] = []
    worker_rss: list[float] = []
    normalizer_cpu: list[dict[str, float]] = []
    worker_cpu: list[dict[str, float]] = []
    for n in range(sizes.runs):
        run_env = {
            **env,
            "METRICSYNC_MONGO_DB": f"{env['METRICSYNC_MONGO_DB']}_n{n}",
            "METRICSYNC_NORMALIZER_GROUP": f"{env['METRICSYNC_NORMALIZER_GROUP']}-{n}",
            "METRICSYNC_EVENTS_TOPIC": f"{env['METRICSYNC_EVENTS_TOPIC']}-{n}",
        }
        Proc(["init"], run_env, ctx.path(f"logs/pipe-init-{n}.log")).wait(120)
        seconds, _, used = _burst(ctx, "normalizer", run_env, timeout)
        normalizer_rates.append(deliveries / seconds)
        normalizer_cpu.append(used)
    for n in range(sizes.runs):
        run_env = {
            **env,
            "METRICSYNC_MONGO_DB": f"{env['METRICSYNC_MONGO_DB']}_w{n}",
            "METRICSYNC_WORKER_GROUP": f"{env['METRICSYNC_WORKER_GROUP']}-{n}",
            "METRICSYNC_EVENTS_TOPIC": f"{env['METRICSYNC_EVENTS_TOPIC']}-0",
        }
        seconds, peak, used = _burst(ctx, "worker", run_env, timeout)
        worker_rates.append(events / seconds)
        worker_rss.append(peak)
        worker_cpu.append(used)
    rebuild_rates: list[float] = []
    rebuild_env = {
        **env,
        "METRICSYNC_MONGO_DB": f"{env['METRICSYNC_MONGO_DB']}_n0",
        "METRICSYNC_EVENTS_TOPIC": f"{env['METRICSYNC_EVENTS_TOPIC']}-0",
    }
    rebuild_cpu: list[dict[str, float]] = []
    for n in range(sizes.rebuild_runs):
        with CpuMeter(_ports(rebuild_env)) as cpu:
            proc = Proc(["rebuild", "--distributed"], rebuild_env, ctx.path(f"logs/rebuild-{n}.log"))
            proc.wait(timeout)
        rebuild_cpu.append(cpu.used)
        match = _REBUILT.search(proc.log_path.read_text(errors="replace"))
        if match is None:
            raise RuntimeError(f"rebuild printed no summary:\n{proc.tail()}")
        rebuild_rates.append(int(match.group(1)) / float(match.group(4)))

    ctx.add(Figure(SCENARIO, "normalizer", "deliveries/s", normalizer_rates, Target(">=", 20_000)))
    ctx.add(Figure(SCENARIO, "normalizer, in events", "events/s", [r * events / deliveries for r in normalizer_rates]))
    _cpu_figures(ctx, SCENARIO, "normalizer", "delivery", deliveries, normalizer_cpu)
    ctx.add(Figure(SCENARIO, "worker", "events/s", worker_rates, Target(">=", 50_000)))
    _cpu_figures(ctx, SCENARIO, "worker", "event", events, worker_cpu)
    ctx.add(Figure(REBUILD, "rebuild --distributed", "events/s", rebuild_rates, Target(">=", 50_000)))
    _cpu_figures(ctx, REBUILD, "rebuild", "event", events, rebuild_cpu)
    ctx.add(Figure(MEMORY, f"worker RSS, {small_events:,} events (peak)", "MB", [small_rss]))
    ctx.add(Figure(MEMORY, f"worker RSS, {events:,} events (peak)", "MB", worker_rss))
    ctx.note(
        SCENARIO,
        f"Topic of {deliveries:,} raw deliveries = {events:,} events over {sizes.pipeline_services} services "
        f"(8 partitions; prepared in {prepare_seconds:.0f} s). " + (__doc__ or "").split("\n\n")[1].replace("\n", " "),
    )
    ctx.note(
        REBUILD,
        "`metricsync rebuild --distributed` over normalizer run 1's database (reads raw_deliveries, maps, "
        "stores events, applies them, stores state, publishes snapshots); rate = events / its own elapsed time.",
    )
