"""The ceiling: a bare Starlette endpoint that reads the body and answers 202, served exactly like
the MetricSync HTTP services (`metricsync.web.serving.serve_app`: uvicorn, same flags and protocol, and
as many processes as METRICSYNC_INGEST_WORKERS says, as `metricsync ingest` is).

    python -m bench.bare      # METRICSYNC_HOST / METRICSYNC_PORT as for the services
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def webhook(request: Request) -> Response:
    await request.body()
    return Response(status_code=202)


async def healthz(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


def create_bare_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/webhooks/github", webhook, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def main() -> int:
    from metricsync.logs import configure_logging
    from metricsync.settings import Settings
    from metricsync.web.serving import serve_app

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    return serve_app(settings, create_bare_app, workers=settings.ingest_workers)


if __name__ == "__main__":
    raise SystemExit(main())
