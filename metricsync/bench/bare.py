"""The ceiling: a bare Starlette endpoint that reads the body and answers 202, served exactly like
the MetricSync HTTP services (`metricsync.cli.serve_app`: uvicorn, same flags, one process).

    python -m metricsync.bench.bare      # METRICSYNC_HOST / METRICSYNC_PORT as for the services
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


def main() -> None:
    from metricsync.cli import serve_app
    from metricsync.logs import configure_logging
    from metricsync.settings import Settings

    settings = Settings()
    configure_logging(settings.log_level)
    serve_app(settings, create_bare_app())


if __name__ == "__main__":
    main()
