"""Cursor pagination for the API's lists (deployments, incidents, dead letters, ...).

A list is put in a stable total order by a key of plain values (e.g. finish time in microseconds,
service, id); a page is the `limit` items after the cursor; the cursor is the key of the page's last
item, as opaque URL-safe text. A cursor stays valid while items are added: the next page starts after
the last item seen, wherever new ones land.

Use: `page = paginate(items, key, params.cursor, params.limit)`, then `next_link(request, page.cursor)`
for the body's `next` and the `Link` header. A list a store pages itself (dead letters: keyset reads,
`WHERE key > cursor ORDER BY key LIMIT n`) reads `limit + 1` items after `decode_cursor(...)` and makes
its page with `keyset_page`.
"""

from __future__ import annotations

import base64
import binascii
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

import orjson
from starlette.requests import Request

from metricsync.web.contract import BadQueryError

T = TypeVar("T")
Key = tuple[int | str, ...]


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    cursor: str | None  # of the next page; None: this is the last


def micros(moment: datetime) -> int:
    """A key part for a moment: microseconds since the epoch (orders like time, unlike ISO text)."""
    return round(moment.timestamp() * 1_000_000)


def encode_cursor(key: Key) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(key))).rstrip(b"=").decode("ascii")


def decode_cursor(text: str, like: Key | None) -> Key:
    """The key in a cursor; 400 `bad_cursor` when it is not one this list made (`like`: any key of it)."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        value = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        value = None
    if (
        not isinstance(value, list)
        or not all(isinstance(part, int | str) and not isinstance(part, bool) for part in value)
        or (like is not None and [type(part) for part in value] != [type(part) for part in like])
    ):
        value = None
    if value is None:
        raise BadQueryError("bad_cursor", "'cursor' is not a cursor of this list; take it from a page's `next` URL")
    return tuple(value)


def paginate(items: Sequence[T], key: Callable[[T], Key], cursor: str | None, limit: int) -> Page[T]:
    """The `limit` items after `cursor` in `key` order."""
    ordered = sorted(items, key=key)
    keys = [key(item) for item in ordered]
    start = 0
    if cursor is not None:
        after = decode_cursor(cursor, keys[0] if keys else None)
        start = bisect_right(keys, after) if keys else 0
    chunk = ordered[start : start + limit]
    more = start + limit < len(ordered)
    return Page(chunk, encode_cursor(keys[start + limit - 1]) if more else None)


def keyset_page(fetched: Sequence[T], key: Callable[[T], Key], limit: int) -> Page[T]:
    """The page of a store's keyset read: `fetched` is up to `limit + 1` items in `key` order after the
    cursor; one more than `limit` means there is a next page, starting after the page's last item."""
    chunk = list(fetched[:limit])
    more = len(fetched) > limit and bool(chunk)
    return Page(chunk, encode_cursor(key(chunk[-1])) if more else None)


def next_link(request: Request, cursor: str | None) -> str | None:
    """The URL of the next page: this request's path and query with `cursor` replaced, relative to the host
    (right behind a reverse proxy that keeps paths, whatever Host it forwards)."""
    if cursor is None:
        return None
    url = request.url.include_query_params(cursor=cursor)
    return f"{url.path}?{url.query}"
