"""The dashboard's static files, served from package data: read once, gzipped once, ETagged.

`/` is the page; `/assets/<name>` its scripts, styles and the vendored chart library. No token is
needed for these (the data routes ask for it). Every response carries the security headers.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
from dataclasses import dataclass
from importlib import resources

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from metricsync.dashboard.headers import SECURITY_HEADERS

log = logging.getLogger(__name__)

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}
INDEX = "index.html"


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    gzipped: bytes
    media_type: str
    etag: str


def _asset(name: str, body: bytes) -> Asset:
    suffix = name[name.rfind(".") :]
    digest = hashlib.sha256(body).hexdigest()[:20]
    return Asset(body, gzip.compress(body, 9, mtime=0), MEDIA_TYPES[suffix], f'"{digest}"')


def load_assets() -> dict[str, Asset]:
    """Every servable file under static/ (vendor/ included), keyed by its path relative to static/."""
    root = resources.files("metricsync.dashboard").joinpath("static")
    found: dict[str, Asset] = {}
    pending = [("", root)]
    while pending:
        prefix, folder = pending.pop()
        for entry in folder.iterdir():
            if entry.is_dir():
                pending.append((f"{prefix}{entry.name}/", entry))
            elif any(entry.name.endswith(suffix) for suffix in MEDIA_TYPES):
                found[prefix + entry.name] = _asset(entry.name, entry.read_bytes())
    if INDEX not in found:
        raise RuntimeError("the dashboard's static/index.html is missing from the installed package")
    return found


TOKEN_MARK = b"__TOKEN_REQUIRED__"


class DashboardAssets:
    """`token_required`: the page asks for the read API token before its first request (a meta tag
    says so), rather than finding out from a refused one."""

    def __init__(self, token_required: bool, assets: dict[str, Asset] | None = None) -> None:
        self.assets = dict(load_assets() if assets is None else assets)
        page = self.assets[INDEX].body.replace(TOKEN_MARK, b"true" if token_required else b"false")
        self.assets[INDEX] = _asset(INDEX, page)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self.index, methods=["GET", "HEAD"]),
            Route("/assets/{name:path}", self.asset, methods=["GET", "HEAD"]),
        ]

    async def index(self, request: Request) -> Response:
        return self._send(request, self.assets[INDEX])

    async def asset(self, request: Request) -> Response:
        name = request.path_params["name"]
        found = self.assets.get(name) if name != INDEX else None
        if found is None:
            return PlainTextResponse(f"no dashboard asset '{name}'", 404, headers=SECURITY_HEADERS)
        return self._send(request, found)

    def _send(self, request: Request, asset: Asset) -> Response:
        headers = {**SECURITY_HEADERS, "etag": asset.etag, "cache-control": "no-cache", "vary": "accept-encoding"}
        if request.headers.get("if-none-match") == asset.etag:
            return Response(status_code=304, headers=headers)
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["content-encoding"] = "gzip"
            return Response(asset.gzipped, media_type=asset.media_type, headers=headers)
        return Response(asset.body, media_type=asset.media_type, headers=headers)
