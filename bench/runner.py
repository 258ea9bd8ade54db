"""`python -m bench` (or `scripts/bench`) from a checkout: run the scenarios on loopback, print the table,
write docs/benchmarks.md. Not installed with MetricSync: it needs the checkout (scripts/services, docs/)."""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import machine
from bench.context import FULL, QUICK, BenchContext, sizes_with
from bench.results import Report, markdown, splice, text_table
from bench.servers import Servers
from metricsync.logs import configure_logging
from schemas.errors import ConfigError, MetricSyncError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    what: str
    run: Callable[[BenchContext], None]


def _scenarios() -> list[Scenario]:
    from bench import api_reads, consumer_replay, e2e, engine_history, ingest_load, retention

    return [
        Scenario(
            "ingest-distributed",
            "1: metricsync ingest -> Kafka, vs bare Starlette; 7: ingest RSS",
            ingest_load.run_distributed,
        ),
        Scenario("ingest-embedded", "2: metricsync serve (SQLite group commit), catch-up", ingest_load.run_embedded),
        Scenario("e2e-latency", "3: webhook accepted -> snapshot on the metrics topic", e2e.run),
        Scenario(
            "pipeline",
            "4: normalizer and worker replaying a prepared topic; 8: rebuild; 7: worker RSS",
            consumer_replay.run,
        ),
        Scenario("engine-history", "5: per-event engine cost with small vs large history", engine_history.run),
        Scenario("read-api", "6: read API over a large history (in-process ASGI)", api_reads.run),
        Scenario("worker-memory", "7: engine RSS as history grows past the retention (child processes)", retention.run),
    ]


SCENARIO_NAMES = (
    "ingest-distributed",
    "ingest-embedded",
    "e2e-latency",
    "pipeline",
    "engine-history",
    "read-api",
    "worker-memory",
)


def select(requested: str | None, names: Sequence[str] = SCENARIO_NAMES) -> list[str]:
    """Scenario names in run order from a comma-separated list ("all" or None: every one)."""
    if requested is None or requested.strip() in ("", "all"):
        return list(names)
    wanted = [part.strip() for part in requested.split(",") if part.strip()]
    unknown = [w for w in wanted if w not in names]
    if unknown:
        raise ConfigError(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(names)}")
    return [n for n in names if n in wanted]


def build_parser() -> argparse.ArgumentParser:
    bench = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run the benchmarks on loopback, print a table and write docs/benchmarks.md. "
        "Starts what it needs (MetricSync processes; Kafka and FerretDB through scripts/services "
        "unless METRICSYNC_KAFKA_BOOTSTRAP and METRICSYNC_MONGO_URI are set) and cleans up.",
    )
    bench.add_argument("--scenario", help=f"comma-separated, default all: {','.join(SCENARIO_NAMES)}")
    bench.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test); writes no doc unless --output")
    bench.add_argument("--runs", type=int, help="repetitions of each figure (default 3)")
    bench.add_argument("--seconds", type=float, help="seconds per load run (default 10)")
    bench.add_argument("--connections", type=int, help="wrk connections (default 32)")
    bench.add_argument(
        "--ingest-workers",
        type=int,
        help="scenario 1: METRICSYNC_INGEST_WORKERS for `metricsync ingest` and for its ceiling (default: ingest's)",
    )
    bench.add_argument("--pipeline-events", type=int, help="events in the replayed topic (scenario 4)")
    bench.add_argument("--history-events", type=int, help="large history of scenarios 5-6 (default 1,000,000)")
    bench.add_argument("--output", type=Path, help="markdown file to write (default docs/benchmarks.md)")
    bench.add_argument("--workdir", type=Path, help="keep logs and data here instead of a temporary directory")
    return bench


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(os.environ.get("METRICSYNC_LOG_LEVEL", "INFO"))
    try:
        return cmd_bench(args)
    except MetricSyncError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 2


def cmd_bench(args: argparse.Namespace) -> int:
    from bench.ingest_load import ingest_workers

    names = select(args.scenario)
    base = QUICK if args.quick else FULL
    sizes = sizes_with(
        base,
        runs=args.runs,
        load_seconds=args.seconds,
        paced_seconds=args.seconds,
        connections=args.connections,
        ingest_workers=args.ingest_workers,
        pipeline_events=args.pipeline_events,
        history_large=args.history_events,
    )
    output: Path | None = args.output
    if output is None and not args.quick:
        output = Path("docs/benchmarks.md")
    command = " ".join(["python -m bench", *(shlex.quote(a) for a in sys.argv[1:])])
    with tempfile.TemporaryDirectory(prefix="metricsync-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        report = Report(machine=machine.describe(), command=command, conditions="")
        ctx = BenchContext(sizes=sizes, workdir=workdir, report=report, servers=Servers(workdir / "services"))
        load_before = machine.load_average()
        started = time.perf_counter()
        failed: list[str] = []
        try:
            for scenario in (s for s in _scenarios() if s.name in names):
                log.info("scenario %s (%s)", scenario.name, scenario.what)
                scenario_started = time.perf_counter()
                try:
                    scenario.run(ctx)
                except Exception as e:
                    log.exception("scenario %s failed", scenario.name)
                    failed.append(f"{scenario.name}: {type(e).__name__}: {e}"[:300])
                log.info("scenario %s took %.0f s", scenario.name, time.perf_counter() - scenario_started)
        finally:
            ctx.servers.close()
        report.seconds = time.perf_counter() - started
        report.conditions = (
            f"Load average (1/5/15 min) {load_before} at the start, {machine.load_average()} at the end "
            "(other engineers share the machine). Sizes: "
            f"{sizes.runs} runs per figure, {sizes.load_seconds:.0f} s load runs, {sizes.connections} connections, "
            f"ingest worker processes {ingest_workers(ctx)} (scenario 1), "
            f"pipeline {sizes.pipeline_events:,} events / {sizes.pipeline_services} services, "
            f"history {sizes.history_small:,} vs {sizes.history_large:,} events."
        )
        for failure in failed:
            report.note("failed scenarios", failure)
    print(text_table(report.figures))
    for failure in failed:
        print(f"FAILED {failure}", file=sys.stderr)
    if output is not None:
        existing = output.read_text() if output.exists() else None
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(splice(existing, markdown(report)))
        print(f"wrote {output}", file=sys.stderr)
    return 1 if failed else 0
