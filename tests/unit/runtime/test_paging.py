"""Cursor paging (metricsync/web/paging.py): in-memory `paginate` and a store's keyset pages, edge cases."""

from __future__ import annotations

import pytest

from metricsync.web.contract import BadQueryError
from metricsync.web.paging import Key, decode_cursor, encode_cursor, keyset_page, paginate

Item = tuple[str, str]  # (at, id), as a dead letter's key


def key(item: Item) -> Key:
    return item


ITEMS: list[Item] = [("2026-01-01T00:00:00+00:00", "b"), ("2026-01-01T00:00:00+00:00", "a"), ("2026-01-02", "c")]


def keyset_walk(items: list[Item], limit: int) -> list[list[Item]]:
    """Pages as a store reads them: `limit + 1` items after the cursor, in key order."""
    ordered = sorted(items)
    pages: list[list[Item]] = []
    cursor: str | None = None
    while True:
        after = decode_cursor(cursor, ("", "")) if cursor is not None else None
        fetched = [i for i in ordered if after is None or i > after][: limit + 1]
        page = keyset_page(fetched, key, limit)
        pages.append(page.items)
        if page.cursor is None:
            return pages
        cursor = page.cursor


@pytest.mark.parametrize(
    ("count", "limit", "sizes"),
    [
        pytest.param(0, 5, [0], id="empty-list-one-empty-page"),
        pytest.param(3, 3, [3], id="exactly-one-page-no-next"),
        pytest.param(4, 3, [3, 1], id="one-over"),
        pytest.param(6, 3, [3, 3], id="exact-multiple-no-empty-last-page"),
        pytest.param(5, 1, [1, 1, 1, 1, 1], id="limit-one"),
    ],
)
def test_keyset_pages_cover_every_item_once_in_order(count: int, limit: int, sizes: list[int]) -> None:
    items = [("2026-01-01T00:00:00+00:00", f"id{n:02d}") for n in range(count)]  # all tied on `at`
    pages = keyset_walk(items, limit)
    assert [len(p) for p in pages] == sizes
    assert [i for p in pages for i in p] == sorted(items)


def test_keyset_and_in_memory_paging_agree() -> None:
    in_memory: list[Item] = []
    cursor: str | None = None
    while True:
        page = paginate(ITEMS, key, cursor, 2)
        in_memory += page.items
        if page.cursor is None:
            break
        cursor = page.cursor
    assert in_memory == [i for p in keyset_walk(ITEMS, 2) for i in p] == sorted(ITEMS)


def test_a_cursor_stays_valid_when_items_are_added_before_and_after_it() -> None:
    first = keyset_page(sorted(ITEMS)[:3], key, 2)
    assert first.cursor is not None
    after = decode_cursor(first.cursor, ("", ""))
    grown = sorted([*ITEMS, ("2025-12-31", "z"), ("2026-01-01T00:00:00+00:00", "aa"), ("2026-01-03", "d")])
    rest = [i for i in grown if i > after]
    # the page was a, b: new items sorting before b (aa, z) are not shown, the ones after it are; none twice
    assert first.items == [("2026-01-01T00:00:00+00:00", "a"), ("2026-01-01T00:00:00+00:00", "b")]
    assert rest == [("2026-01-02", "c"), ("2026-01-03", "d")]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("!!", id="not-base64"),
        pytest.param(encode_cursor((1, "a")), id="other-list-shape-int-first"),
        pytest.param(encode_cursor(("a",)), id="too-short"),
        pytest.param(encode_cursor(("a", "b", "c")), id="too-long"),
        pytest.param("bnVsbA", id="json-null"),
        pytest.param("W3RydWUsImEiXQ", id="bool-part"),
        pytest.param("", id="empty"),
    ],
)
def test_a_cursor_of_another_shape_is_a_400_naming_it(text: str) -> None:
    with pytest.raises(BadQueryError) as raised:
        decode_cursor(text, ("", ""))
    assert raised.value.code == "bad_cursor"
    assert "'cursor'" in raised.value.detail


def test_cursors_round_trip_unicode_and_are_url_safe() -> None:
    cursor = encode_cursor(("2026-01-01T00:00:00+00:00", "ü/é+?&=id"))
    assert cursor.replace("-", "").replace("_", "").isalnum()
    assert decode_cursor(cursor, ("", "")) == ("2026-01-01T00:00:00+00:00", "ü/é+?&=id")
