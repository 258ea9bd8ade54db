"""Read the same API answers from two MetricSyncs (embedded and distributed) and compare them."""

from __future__ import annotations

from collections.abc import Callable

import httpx

Answers = dict[str, object]


def answers(base: str, scopes: list[dict[str, str]], window: dict[str, str]) -> Answers:
    out: Answers = {}
    for scope in scopes:
        params = {**window, **scope}
        key = ",".join(f"{k}={v}" for k, v in sorted(scope.items())) or "all"
        dora = httpx.get(f"{base}/api/v1/dora", params=params, timeout=15)
        series = httpx.get(f"{base}/api/v1/dora/series", params={**params, "interval": "day"}, timeout=15)
        out[key] = (dora.status_code, dora.json(), series.status_code, series.json())
    return out


def equal_soon(read: Callable[[], Answers], want: Answers) -> Callable[[], bool]:
    def check() -> bool:
        return read() == want

    return check
