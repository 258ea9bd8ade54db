"""The `metricsync` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from metricsync.errors import MetricSyncError
from metricsync.logs import configure_logging
from metricsync.settings import Settings

log = logging.getLogger("metricsync")


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    for name in ("host", "port", "data_dir"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return Settings(**overrides)  # type: ignore[arg-type]


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from metricsync.app import create_embedded_app
    from metricsync.datadir import DataDirLock

    settings = _settings(args)
    with DataDirLock(settings.data_dir):
        app = create_embedded_app(settings)
        log.info("serving embedded mode on http://%s:%d", settings.host, settings.port)
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level.lower(),
            access_log=False,
            timeout_graceful_shutdown=10,
        )
    return 0


def cmd_rebuild(args: argparse.Namespace) -> int:
    from metricsync.rebuild import rebuild_embedded

    settings = _settings(args)
    return asyncio.run(rebuild_embedded(settings, out=sys.stderr))


def cmd_simulate(args: argparse.Namespace) -> int:
    from metricsync.simulate import SimulationPlan, run_simulation

    settings = Settings()
    plan = SimulationPlan(days=args.days, services=args.services, seed=args.seed)
    return run_simulation(args.url, plan, settings, out=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="metricsync", description="Streaming DORA metrics from webhooks.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser(
        "serve", help="embedded mode: ingest, normalizer, worker and read API in one process"
    )
    serve.add_argument("--host", help="listen address (METRICSYNC_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (METRICSYNC_PORT, default 8000)")
    serve.add_argument("--data-dir", type=Path, help="SQLite data directory (METRICSYNC_DATA_DIR)")
    serve.set_defaults(func=cmd_serve)

    rebuild = sub.add_parser("rebuild", help="re-derive events and metrics from the stored raw deliveries")
    rebuild.add_argument("--data-dir", type=Path, help="SQLite data directory (METRICSYNC_DATA_DIR)")
    rebuild.set_defaults(func=cmd_rebuild)

    simulate = sub.add_parser("simulate", help="send realistic signed webhooks for a made-up team")
    simulate.add_argument("--url", default="http://127.0.0.1:8000", help="MetricSync base URL")
    simulate.add_argument("--days", type=int, default=30, help="days of history to simulate (default 30)")
    simulate.add_argument("--services", type=int, default=3, help="number of services (default 3)")
    simulate.add_argument("--seed", type=int, default=7, help="random seed (same seed, same webhooks)")
    simulate.set_defaults(func=cmd_simulate)
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
