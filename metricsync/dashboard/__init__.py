"""The web dashboard: static page, its extra read routes and the live stream (`GET /api/v1/stream`).

`dashboard_routes(api, hub)` gives the routes a server adds next to the read API; the hub is fed by
the embedded pipeline's snapshots (`feeds.bus_feed`) or, in distributed mode, by the compacted
metrics topic (`feeds.KafkaMetricsFeed`).
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from metricsync.dashboard.assets import DashboardAssets
from metricsync.dashboard.hub import StreamHub
from metricsync.dashboard.panels import DashboardViews
from metricsync.dashboard.sse import StreamRoute
from metricsync.web.read_api import ReadApi


def dashboard_routes(api: ReadApi, hub: StreamHub, settle_ms: int = 0) -> list[BaseRoute]:
    """The page and its assets, the dashboard's read routes and the live stream (`settle_ms`: see sse.py)."""
    stream = StreamRoute(api, hub, settle_ms)
    return DashboardViews(api).routes() + stream.routes() + DashboardAssets(api.api_token is not None).routes()


__all__ = ["StreamHub", "dashboard_routes"]
