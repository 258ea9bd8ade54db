"""`/openapi.json` and the API reference at `/docs`.

The operations of the routes ingest builds are `WEBHOOK_OPERATIONS` (metricsync.web.webhook_docs, re-exported
here); the read API's routes carry their operations themselves (`ApiRoute`).

`/docs` is Swagger UI, vendored from npm (static/swagger-ui, `scripts/vendor-swagger-ui`), served from
this process with a Content-Security-Policy that allows nothing but this origin: no CDN, no inline script.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from metricsync.web.openapi import openapi_document
from metricsync.web.webhook_docs import WEBHOOK_OPERATIONS

__all__ = ["CSP", "STATIC", "WEBHOOK_OPERATIONS", "docs_routes", "document_json"]

STATIC = Path(__file__).parent / "static"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; base-uri 'self'; form-action 'none'; frame-ancestors 'none'"
)


def docs_routes(routes: Callable[[], Sequence[BaseRoute]]) -> list[BaseRoute]:
    """`GET /openapi.json` (the document of `routes()`, built on first use) and `GET /docs`."""
    cache: dict[str, bytes] = {}

    def document() -> bytes:
        if "json" not in cache:
            cache["json"] = document_json(routes()).encode()
        return cache["json"]

    async def openapi_json(request: Request) -> Response:
        return Response(document(), media_type="application/json")

    page = (STATIC / "docs.html").read_bytes()

    async def docs(request: Request) -> Response:
        return Response(page, media_type="text/html; charset=utf-8", headers={"Content-Security-Policy": CSP})

    return [
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        Mount("/docs/static", app=StaticFiles(directory=STATIC), name="docs_static"),
    ]


def document_json(routes: Sequence[BaseRoute]) -> str:
    """The document as served and as `docs/openapi.json` holds it (2-space indent, the code's key order)."""
    return orjson.dumps(openapi_document(routes), option=orjson.OPT_INDENT_2).decode() + "\n"
