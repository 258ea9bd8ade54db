"""An HTTP client for the tools' REST APIs, as the importers need it.

- **Pagination** by the `Link` header (`rel="next"`), as GitHub and GitLab send it.
- **Conditional requests**: a response's `ETag` is kept (with its body) in the import state
  directory; the next run of the same request sends `If-None-Match` and a `304` costs GitHub no rate
  limit. A resumed or repeated import therefore re-reads cheaply.
- **Rate limits**: a `403`/`429` with `X-RateLimit-Remaining: 0` waits until `X-RateLimit-Reset`
  (GitHub's primary limit); one with `Retry-After` waits that long (secondary limits, GitLab's
  `429`). A wait longer than `max_wait` stops the import with a clear error instead: run it again
  later and it resumes.
- **Retries** with exponential backoff and jitter on `5xx` and connection errors, `retries` times.
- A `401` (or a `403` that is no rate limit) is a refused token: `TokenRefused`, never retried.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from schemas.errors import MetricSyncError

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class ImportFailed(MetricSyncError):
    """An import cannot go on (API error after retries, a rate-limit wait too long)."""


class TokenRefused(ImportFailed):
    """The API refused the credentials: wrong token, missing scope, or no access to the resource."""


@dataclass
class RequestStats:
    requests: int = 0
    not_modified: int = 0
    retries: int = 0
    rate_limit_waits: int = 0
    waited_seconds: float = 0.0


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 5
    backoff_seconds: float = 1.0  # first wait; doubles each retry, with up to 50 % jitter
    max_backoff_seconds: float = 60.0
    max_wait_seconds: float = 3600.0  # longest rate-limit wait before giving up


class ETagCache:
    """`ETag` and body per URL, in a small SQLite file of the import state directory."""

    def __init__(self, path: Path | None) -> None:
        self._db: sqlite3.Connection | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path)
            self._db.execute("CREATE TABLE IF NOT EXISTS etags (url TEXT PRIMARY KEY, etag TEXT, link TEXT, body BLOB)")

    def get(self, url: str) -> tuple[str, str, bytes] | None:
        if self._db is None:
            return None
        row = self._db.execute("SELECT etag, link, body FROM etags WHERE url = ?", (url,)).fetchone()
        return (row[0], row[1], row[2]) if row else None

    def put(self, url: str, etag: str, link: str, body: bytes) -> None:
        if self._db is not None:
            self._db.execute("INSERT OR REPLACE INTO etags VALUES (?, ?, ?, ?)", (url, etag, link, body))
            self._db.commit()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


@dataclass
class Page:
    data: Any
    next_url: str | None
    headers: Mapping[str, str] = field(default_factory=dict)


def _next_link(link_header: str) -> str | None:
    """The `rel="next"` target of a `Link` header (RFC 8288, as GitHub and GitLab write it)."""
    for part in link_header.split(","):
        section = part.split(";")
        if len(section) < 2:
            continue
        target = section[0].strip()
        if not (target.startswith("<") and target.endswith(">")):
            continue
        for param in section[1:]:
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "rel" and "next" in value.strip().strip('"').split():
                return target[1:-1]
    return None


class ApiClient:
    """GET JSON from one API with the policies above. `auth_headers` carry the token; they are
    never logged."""

    def __init__(
        self,
        base_url: str,
        auth_headers: Mapping[str, str],
        *,
        etags: ETagCache | None = None,
        policy: RetryPolicy = RetryPolicy(),
        sleep: Sleep = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_seconds: float = 30.0,
        user_agent: str = "metricsync-import",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(
            headers={"User-Agent": user_agent, **auth_headers},
            timeout=timeout_seconds,
            transport=transport,
            follow_redirects=True,
        )
        self._etags = etags or ETagCache(None)
        self._policy = policy
        self._sleep = sleep
        self.stats = RequestStats()

    async def close(self) -> None:
        await self._client.aclose()
        self._etags.close()

    def url(self, path: str, params: Mapping[str, str | int] | None = None) -> str:
        url = path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path.lstrip('/')}"
        if params:
            return str(httpx.URL(url, params={k: str(v) for k, v in params.items()}))
        return url

    async def get(self, path: str, params: Mapping[str, str | int] | None = None) -> Page:
        url = self.url(path, params)
        cached = self._etags.get(url)
        headers = {"If-None-Match": cached[0]} if cached else {}
        attempt = 0
        while True:
            self.stats.requests += 1
            try:
                response = await self._client.get(url, headers=headers)
            except httpx.TransportError as e:
                attempt = await self._backoff(attempt, url, f"{type(e).__name__}: {e}")
                continue
            status = response.status_code
            if status == 304 and cached:
                self.stats.not_modified += 1
                return Page(orjson.loads(cached[2]), _next_link(cached[1]), response.headers)
            if status < 300:
                body = response.content
                link = response.headers.get("link", "")
                etag = response.headers.get("etag")
                if etag:
                    self._etags.put(url, etag, link, body)
                return Page(orjson.loads(body) if body else None, _next_link(link), response.headers)
            wait = self._rate_limit_wait(response)
            if wait is not None:
                await self._wait_rate_limit(url, wait)
                continue
            if status in (401, 403):
                raise TokenRefused(
                    f"{url} answered {status} {_message(response)}: check the token "
                    "(its scopes, and that it can read this resource)"
                )
            if status >= 500 or status == 408:
                attempt = await self._backoff(attempt, url, f"HTTP {status}")
                continue
            raise ImportFailed(f"{url} answered {status} {_message(response)}")

    async def paginate(self, path: str, params: Mapping[str, str | int] | None = None) -> AsyncIterator[Page]:
        page: Page | None = await self.get(path, params)
        while page is not None:
            yield page
            page = await self.get(page.next_url) if page.next_url else None

    def _rate_limit_wait(self, response: httpx.Response) -> float | None:
        if response.status_code not in (403, 429):
            return None
        retry_after = response.headers.get("retry-after")
        if retry_after is not None:
            try:
                return max(0.0, float(retry_after))
            except ValueError:
                return 60.0
        if response.headers.get("x-ratelimit-remaining") == "0":
            reset = response.headers.get("x-ratelimit-reset")
            try:
                return max(0.0, float(reset) - time.time()) + 1.0 if reset else 60.0
            except ValueError:
                return 60.0
        if response.status_code == 429:
            return 60.0
        return None

    async def _wait_rate_limit(self, url: str, seconds: float) -> None:
        if seconds > self._policy.max_wait_seconds:
            raise ImportFailed(
                f"rate limit: {url} may be asked again only in {seconds:.0f}s "
                f"(over the {self._policy.max_wait_seconds:.0f}s allowed); run the import again later, it resumes"
            )
        self.stats.rate_limit_waits += 1
        self.stats.waited_seconds += seconds
        log.warning("rate limited url=%s waiting_seconds=%.1f", url, seconds)
        await self._sleep(seconds)

    async def _backoff(self, attempt: int, url: str, reason: str) -> int:
        if attempt >= self._policy.retries:
            raise ImportFailed(f"{url}: {reason}, still after {attempt} retries")
        delay = min(self._policy.max_backoff_seconds, self._policy.backoff_seconds * 2**attempt)
        delay *= 1 + random.random() / 2  # jitter, not cryptography
        self.stats.retries += 1
        log.warning("retrying url=%s reason=%r attempt=%d wait_seconds=%.1f", url, reason, attempt + 1, delay)
        await self._sleep(delay)
        return attempt + 1


def _message(response: httpx.Response) -> str:
    """The API's own error message, when its body has one (GitHub and GitLab: `message`)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        text = body.get("message") or body.get("error") or ""
        return f"({text})" if isinstance(text, str) and text else ""
    return ""
