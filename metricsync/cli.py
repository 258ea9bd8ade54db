"""The `metricsync` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from metricsync.logs import configure_logging
from metricsync.settings import Settings
from schemas.errors import MetricSyncError

log = logging.getLogger("metricsync")


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    for name in ("host", "port", "data_dir"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return Settings(**overrides)  # type: ignore[arg-type]


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
    from metricsync.simulate import SimulationPlan, run_simulation
    from metricsync.simulate_sources import parse_sources

    settings = Settings()
    sources = frozenset(source.value for source in parse_sources(args.sources))
    plan = SimulationPlan(days=args.days, services=args.services, seed=args.seed, sources=sources)
    return run_simulation(args.url, plan, settings, out=sys.stderr)


def cmd_init(args: argparse.Namespace) -> int:
    from metricsync.kafka.clients import create_topics
    from metricsync.mongo.store import MongoStore

    settings = _settings(args)

    async def init() -> None:
        created = await create_topics(settings)
        store = MongoStore.from_settings(settings)
        try:
            await store.init()
        finally:
            await store.close()
        print(
            f"topics created: {', '.join(created) or 'none (all existed)'}; "
            f"mongo database {settings.mongo_db}: events collection "
            f"{'time-series' if store.events_timeseries else 'ordinary (server has no time-series)'}",
            file=sys.stderr,
        )

    asyncio.run(init())
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from metricsync.services.web_apps import create_ingest_service_app
    from metricsync.web.serving import serve_app

    settings = _settings(args)
    return serve_app(
        settings,
        lambda: create_ingest_service_app(settings, with_api=args.with_api),
        workers=settings.ingest_workers,
    )


def cmd_api(args: argparse.Namespace) -> int:
    from metricsync.services.web_apps import create_api_app
    from metricsync.web.serving import serve_app

    settings = _settings(args)
    return serve_app(settings, lambda: create_api_app(settings))


def cmd_normalizer(args: argparse.Namespace) -> int:
    from metricsync.mongo.store import MongoStore
    from metricsync.services.lifecycle import run_consumer_service
    from metricsync.services.normalizer_service import NormalizerService

    settings = _settings(args)

    async def run() -> None:
        store = MongoStore.from_settings(settings)
        try:
            service = NormalizerService(settings, store, settings.mapping_rules())
            await run_consumer_service(service, "normalizer", args.burst, settings.heartbeat_file)
        finally:
            await store.close()

    asyncio.run(run())
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from metricsync.clock import utc_now
    from metricsync.mongo.store import MongoStore
    from metricsync.services.lifecycle import run_consumer_service
    from metricsync.services.worker_service import WorkerService

    settings = _settings(args)

    async def run() -> None:
        store = MongoStore.from_settings(settings)
        try:
            worker = WorkerService(settings, store, utc_now)
            await run_consumer_service(worker, "worker", args.burst, settings.heartbeat_file)
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
    simulate.set_defaults(func=cmd_simulate)

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
    health.set_defaults(func=cmd_healthcheck)
    from metricsync.importers.command import add_parser as add_import_parser

    add_import_parser(sub, _settings)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        configure_logging(Settings().log_level)
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
