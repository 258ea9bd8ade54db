"""Read the same API answers from two MetricSyncs (embedded and distributed) and compare them."""

from __future__ import annotations

from collections.abc import Callable

import httpx

Answers = dict[str, object]


PATHS = ("/api/v1/dora", "/api/v1/dora/series", "/api/v1/lead-time", "/api/v1/insights")


def answers(
    base: str, scopes: list[dict[str, str]], window: dict[str, str], headers: dict[str, str] | None = None
) -> Answers:
    """Per scope: (status, JSON) of each of PATHS for the window (the series by day)."""
    out: Answers = {}
    with httpx.Client(base_url=base, headers=headers or {}, timeout=15) as client:
        for scope in scopes:
            params = {**window, **scope}
            key = ",".join(f"{k}={v}" for k, v in sorted(scope.items())) or "all"
            replies = [
                client.get(path, params={**params, "interval": "day"} if path.endswith("/series") else params)
                for path in PATHS
            ]
            out[key] = tuple(part for reply in replies for part in (reply.status_code, reply.json()))
    return out


def equal_soon(read: Callable[[], Answers], want: Answers) -> Callable[[], bool]:
    def check() -> bool:
        return read() == want

    return check
