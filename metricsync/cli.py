"""The `metricsync` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from metricsync.logs import configure_logging
from metricsync.settings import Settings
from schemas.errors import MetricSyncError

log = logging.getLogger(__name__)


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    for name in ("host", "port", "data_dir"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return Settings(**overrides)  # type: ignore[arg-type]


def _utc_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time (e.g. 2026-03-20T18:00:00Z)") from e
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


EMBEDDED_SWITCH_INTERVAL = 0.0005  # seconds; see cmd_serve


def cmd_serve(args: argparse.Namespace) -> int:
    from metricsync.embedded.datadir import DataDirLock, db_path
    from metricsync.embedded.fingerprint import check_before_serving
    from metricsync.embedded.web_app import create_embedded_app
    from metricsync.web.serving import serve_app
    from normalizer.rules import rules_fingerprint

    settings = _settings(args)
    with DataDirLock(settings.data_dir):
        check_before_serving(
            db_path(settings.data_dir),
            rules_fingerprint(settings.mapping_rules()),
            settings.data_dir,
            accept_change=args.accept_rule_change,
        )
        app = create_embedded_app(settings)
        # The SQLite writer thread needs the GIL back after every statement; with the default 5 ms
        # switch interval it can wait that long behind the event loop for each, and every webhook
        # waits for its transaction. 0.5 ms: 2.8-3.0k -> 3.1-3.2k webhooks/s on the bench's load.
        sys.setswitchinterval(EMBEDDED_SWITCH_INTERVAL)
        log.info("serving embedded mode on http://%s:%d", settings.host, settings.port)
        # One process: the SQLite writer, the normalizer and the live engine are this process's.
        return serve_app(settings, lambda: app, workers=1)


def cmd_rebuild(args: argparse.Namespace) -> int:
    from metricsync.rebuild import rebuild_distributed, rebuild_embedded

    settings = _settings(args)
    if args.distributed:
        return asyncio.run(rebuild_distributed(settings, out=sys.stderr))
    return asyncio.run(rebuild_embedded(settings, out=sys.stderr))


def cmd_simulate(args: argparse.Namespace) -> int:
    from metricsync.simulation.send import run_simulation
    from metricsync.simulation.sources import parse_sources
    from metricsync.simulation.team import SimulationPlan

    settings = Settings()
    plan = SimulationPlan(days=args.days, services=args.services, seed=args.seed, sources=parse_sources(args.sources))
    return run_simulation(args.url, plan, settings, out=sys.stderr, resume_from=args.resume_from, as_of=args.as_of)


def cmd_mcp(args: argparse.Namespace) -> int:
    from metricsync.web.mcp import build_server, http_fetch

    settings = Settings()
    token = settings.api_token.get_secret_value() if settings.api_token is not None else None
    # stdout is the protocol's: logs go to stderr (configure_logging)
    build_server(http_fetch(args.url, token)).run("stdio")
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from metricsync.kafka.clients import create_topics
    from metricsync.mongo.store import MongoStore

    settings = _settings(args)

    async def init() -> None:
        topics = await create_topics(settings)
        store = MongoStore.from_settings(settings)
        try:
            await store.init()
        finally:
            await store.close()
        for topic in topics:
            print(topic.line(), file=sys.stderr)
        print(
            f"mongo database {settings.mongo_db}: events collection "
            f"{'time-series' if store.events_timeseries else 'ordinary (server has no time-series)'}",
            file=sys.stderr,
        )

    asyncio.run(init())
    return 0


def cmd_replay_dead_letters(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if not (args.id or args.since or args.all):
        print("metricsync replay-dead-letters: say which: --id ID (repeatable), --since TIME or --all", file=sys.stderr)
        return 2
    if args.distributed:
        from metricsync.services.dead_letters import Selection, replay_distributed

        selection = Selection() if args.all else Selection(tuple(args.id or ()), args.since)
        return asyncio.run(replay_distributed(settings, selection, out=sys.stderr))
    from metricsync.embedded.dead_letters import replay_embedded

    return asyncio.run(replay_embedded(settings, tuple(args.id or ()), args.since, args.all, out=sys.stderr))


def cmd_ingest(args: argparse.Namespace) -> int:
    settings = _settings(args)
    multiprocess_dir = None
    if settings.ingest_workers > 1:
        # prometheus-client's multiprocess mode: chosen when the library is first imported, from the
        # environment, so set before anything imports it (and inherited by the forked workers)
        multiprocess_dir = _metrics_multiprocess_dir(settings)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(multiprocess_dir)

    from metricsync.services.web_apps import create_ingest_service_app
    from metricsync.telemetry.multiprocess import mark_dead
    from metricsync.web.serving import serve_app

    try:
        return serve_app(
            settings,
            lambda: create_ingest_service_app(settings, with_api=args.with_api, multiprocess_dir=multiprocess_dir),
            workers=settings.ingest_workers,
            on_exit=None if multiprocess_dir is None else lambda pid: mark_dead(pid, multiprocess_dir),
        )
    finally:
        if multiprocess_dir is not None and settings.metrics_multiproc_dir is None:
            shutil.rmtree(multiprocess_dir, ignore_errors=True)  # the temporary one made above


def _metrics_multiprocess_dir(settings: Settings) -> Path:
    """METRICSYNC_METRICS_MULTIPROC_DIR emptied, or a new temporary directory."""
    if "prometheus_client" in sys.modules:
        raise MetricSyncError("internal: prometheus_client was imported before its multiprocess directory was set")
    if settings.metrics_multiproc_dir is None:
        return Path(tempfile.mkdtemp(prefix="metricsync-metrics-"))
    directory = settings.metrics_multiproc_dir
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):  # a previous run's values
        stale.unlink()
    return directory


def cmd_api(args: argparse.Namespace) -> int:
    from metricsync.services.web_apps import create_api_app
    from metricsync.web.serving import serve_app

    settings = _settings(args)
    return serve_app(settings, lambda: create_api_app(settings))


def cmd_normalizer(args: argparse.Namespace) -> int:
    from metricsync.mongo.store import MongoStore
    from metricsync.services.lifecycle import run_consumer_service
    from metricsync.services.normalizer_service import NormalizerService
    from metricsync.telemetry.listener import consumer_metrics
    from metricsync.telemetry.process import Telemetry

    settings = _settings(args)

    async def run() -> None:
        store = MongoStore.from_settings(settings)
        telemetry = Telemetry("normalizer")
        try:
            service = NormalizerService(settings, store, settings.mapping_rules(), telemetry.pipeline)
            async with consumer_metrics(telemetry, settings, service):
                await run_consumer_service(
                    service, "normalizer", args.burst, settings.heartbeat_file, settings.stop_timeout.total_seconds()
                )
        finally:
            await store.close()

    asyncio.run(run())
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from metricsync.clock import utc_now
    from metricsync.mongo.store import MongoStore
    from metricsync.services.lifecycle import run_consumer_service
    from metricsync.services.worker_service import WorkerService
    from metricsync.telemetry.listener import consumer_metrics
    from metricsync.telemetry.process import Telemetry

    settings = _settings(args)

    async def run() -> None:
        store = MongoStore.from_settings(settings)
        telemetry = Telemetry("worker")
        try:
            worker = WorkerService(settings, store, utc_now, telemetry.pipeline)
            async with consumer_metrics(telemetry, settings, worker):
                await run_consumer_service(
                    worker, "worker", args.burst, settings.heartbeat_file, settings.stop_timeout.total_seconds()
                )
        finally:
            await store.close()

    asyncio.run(run())
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from metricsync.embedded.backup import backup

    settings = _settings(args)
    size = backup(settings.data_dir, args.output)
    print(f"backup of {settings.data_dir} written to {args.output} ({size} bytes)", file=sys.stderr)
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from metricsync.embedded.backup import restore

    settings = _settings(args)
    moved = restore(settings.data_dir, args.backup_file)
    previous = f"; the previous database is kept as {moved}" if moved else ""
    print(f"restored {args.backup_file} into {settings.data_dir}{previous}", file=sys.stderr)
    return 0


def cmd_openapi(args: argparse.Namespace) -> int:
    from metricsync.embedded.web_app import create_embedded_app
    from metricsync.web.api_docs import document_json

    app = create_embedded_app(_settings(args))  # routes only: nothing opens before the lifespan
    text = document_json(app.routes)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    return 0


def cmd_healthcheck(args: argparse.Namespace) -> int:
    settings = _settings(args)
    path = args.file or settings.heartbeat_file
    if path is None:
        print("metricsync healthcheck: set METRICSYNC_HEARTBEAT_FILE or pass --file", file=sys.stderr)
        return 2
    try:
        age = time.time() - Path(path).stat().st_mtime
    except FileNotFoundError:
        print(f"unhealthy: no heartbeat at {path}", file=sys.stderr)
        return 1
    if age > args.max_age:
        print(f"unhealthy: last heartbeat {age:.0f}s ago (max {args.max_age}s)", file=sys.stderr)
        return 1
    if args.ready:
        state = Path(path).read_text(errors="replace").strip()
        if state.startswith("not ready"):  # an empty file (written by an older version): ready
            print(f"{state} (METRICSYNC_NOT_READY_AFTER)", file=sys.stderr)
            return 1
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("metricsync")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="metricsync", description="Streaming DORA metrics from webhooks.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="embedded mode: ingest, normalizer, worker and read API in one process")
    serve.add_argument("--host", help="listen address (METRICSYNC_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (METRICSYNC_PORT, default 8000)")
    serve.add_argument("--data-dir", type=Path, help="SQLite data directory (METRICSYNC_DATA_DIR)")
    serve.add_argument(
        "--accept-rule-change",
        action="store_true",
        help="start although the catalog aliases or mapping settings changed since the stored events were derived "
        "(the change applies to new webhooks only; `metricsync rebuild` applies it to all history)",
    )
    serve.set_defaults(func=cmd_serve)

    rebuild = sub.add_parser("rebuild", help="re-derive events and metrics from the stored raw deliveries")
    rebuild.add_argument("--data-dir", type=Path, help="SQLite data directory (METRICSYNC_DATA_DIR)")
    rebuild.add_argument(
        "--distributed",
        action="store_true",
        help="rebuild MongoDB state from its raw log (stop normalizers and workers first)",
    )
    rebuild.set_defaults(func=cmd_rebuild)

    simulate = sub.add_parser("simulate", help="send realistic signed webhooks for a made-up team")
    simulate.add_argument("--url", default="http://127.0.0.1:8000", help="MetricSync base URL")
    simulate.add_argument("--days", type=int, default=30, help="days of history to simulate (default 30)")
    simulate.add_argument("--services", type=int, default=3, help="number of services (default 3)")
    simulate.add_argument("--seed", type=int, default=7, help="random seed (same seed, same webhooks)")
    simulate.add_argument(
        "--sources",
        default="github,jenkins,alertmanager",
        help="comma-separated sources the team uses (github, jenkins, alertmanager, gitlab, pagerduty, "
        "opsgenie, cdevents, push) or all (default github,jenkins,alertmanager)",
    )
    simulate.add_argument(
        "--as-of", type=_utc_time, help="the simulation's 'now' (ISO 8601; default: now); a resume repeats it"
    )
    simulate.add_argument(
        "--resume-from", type=int, default=0, help="skip the first N webhooks (an aborted run prints the command)"
    )
    simulate.set_defaults(func=cmd_simulate)

    mcp = sub.add_parser(
        "mcp",
        help="Model Context Protocol server on stdio: read-only tools over the read API at --url "
        "(token: METRICSYNC_API_TOKEN)",
    )
    mcp.add_argument("--url", default="http://127.0.0.1:8000", help="MetricSync base URL serving the read API")
    mcp.set_defaults(func=cmd_mcp)

    replay = sub.add_parser(
        "replay-dead-letters", help="map dead letters again with the current rules (after a fix or a setting change)"
    )
    replay.add_argument("--id", action="append", help="a dead letter's id (the delivery id); repeatable")
    replay.add_argument("--since", type=_utc_time, help="those dead-lettered at or after this time (ISO 8601)")
    replay.add_argument("--all", action="store_true", help="every dead letter not replayed yet")
    replay.add_argument("--distributed", action="store_true", help="MongoDB and Kafka (else the embedded data dir)")
    replay.add_argument("--data-dir", type=Path, help="SQLite data directory (METRICSYNC_DATA_DIR)")
    replay.set_defaults(func=cmd_replay_dead_letters)

    init = sub.add_parser("init", help="distributed: create Kafka topics, MongoDB collections and indexes (idempotent)")
    init.set_defaults(func=cmd_init)
    ingest = sub.add_parser("ingest", help="distributed: the webhook endpoint, publishing to Kafka")
    ingest.add_argument("--host", help="listen address (METRICSYNC_HOST)")
    ingest.add_argument("--port", type=int, help="listen port (METRICSYNC_PORT)")
    ingest.add_argument("--with-api", action="store_true", help="also serve the read API from MongoDB")
    ingest.set_defaults(func=cmd_ingest)
    api = sub.add_parser("api", help="distributed: the read API, served from MongoDB")
    api.add_argument("--host", help="listen address (METRICSYNC_HOST)")
    api.add_argument("--port", type=int, help="listen port (METRICSYNC_PORT)")
    api.set_defaults(func=cmd_api)
    for name, func, what in (
        ("normalizer", cmd_normalizer, "raw topic -> unified events in MongoDB and on the events topic"),
        ("worker", cmd_worker, "events topic -> metric state in MongoDB -> snapshots on the metrics topic"),
    ):
        service = sub.add_parser(name, help=f"distributed: {what}")
        service.add_argument("--burst", action="store_true", help="exit once caught up (tests, backfills)")
        service.set_defaults(func=func)
    backup = sub.add_parser("backup", help="embedded: copy the SQLite database consistently, also while serving")
    backup.add_argument("output", type=Path, help="the backup file to write (replaced if it exists)")
    backup.add_argument("--data-dir", type=Path, help="SQLite data directory (METRICSYNC_DATA_DIR)")
    backup.set_defaults(func=cmd_backup)
    restore = sub.add_parser("restore", help="embedded: put a backup in place (stop `serve` first)")
    restore.add_argument("backup_file", type=Path, help="a file written by `metricsync backup`")
    restore.add_argument("--data-dir", type=Path, help="SQLite data directory (METRICSYNC_DATA_DIR)")
    restore.set_defaults(func=cmd_restore)
    openapi = sub.add_parser("openapi", help="print the OpenAPI 3.1 document served at /openapi.json")
    openapi.add_argument("--output", type=Path, help="write it to this file (e.g. docs/openapi.json)")
    openapi.set_defaults(func=cmd_openapi)
    health = sub.add_parser("healthcheck", help="exit 0 if a consumer service's heartbeat file is fresh")
    health.add_argument("--file", type=Path, help="heartbeat file (default METRICSYNC_HEARTBEAT_FILE)")
    health.add_argument("--max-age", type=float, default=60.0, help="seconds (default 60)")
    health.add_argument(
        "--ready",
        action="store_true",
        help="readiness: also exit 1 while Kafka or MongoDB has been failing for METRICSYNC_NOT_READY_AFTER",
    )
    health.set_defaults(func=cmd_healthcheck)
    from metricsync.importers.command import add_parser as add_import_parser

    add_import_parser(sub, _settings)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
        configure_logging(settings.log_level, settings.log_format)
        started = time.perf_counter()
        code: int = args.func(args)
        log.debug("command=%s seconds=%.2f", args.command, time.perf_counter() - started)
        return code
    except MetricSyncError as e:
        print(f"metricsync: {e}", file=sys.stderr)
        return 2
    except ValueError as e:  # pydantic-settings validation of METRICSYNC_* variables
        print(f"metricsync: invalid setting: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
