"""Links of findings and slow changes: read API URLs (path and query) that show the facts behind them."""

from datetime import datetime, timedelta
from urllib.parse import urlencode

from schemas.insights import Link


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def api_link(
    rel: str,
    path: str,
    scope: dict[str, str],
    environment: str,
    start: datetime,
    end: datetime,
    title: str | None = None,
) -> Link:
    query = {**scope, "environment": environment, "from": _iso(start), "to": _iso(end)}
    return Link(rel=rel, href=f"/api/v1/{path}?{urlencode(query)}", title=title)


def deployment_link(service: str, environment: str, finished: datetime, deployment_id: str) -> Link:
    """The deployments list narrowed to one deployment's finish (a one-second window)."""
    return api_link(
        "deployments",
        "deployments",
        {"service": service},
        environment,
        finished,
        finished + timedelta(seconds=1),
        title=deployment_id,
    )


def incident_link(service: str, environment: str, started: datetime, incident_id: str) -> Link:
    return api_link(
        "incidents",
        "incidents",
        {"service": service},
        environment,
        started,
        started + timedelta(seconds=1),
        incident_id,
    )
