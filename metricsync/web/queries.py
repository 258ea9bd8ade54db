"""The read API's query parameters, as models: the OpenAPI parameters and the strict parsing both come
from them (`metricsync.web.contract.parse_query`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_PAGE = 1000
MAX_SLOWEST = 100
DEFAULT_PAGE = 100
_MOMENT: dict[str, Any] = {"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]}


def _cursor() -> Any:
    """The `cursor` parameter of every paged list (one definition)."""
    return Field(
        None, description="opaque: the `cursor` of the `next` URL of the previous page", examples=["eyJrIjpbXX0"]
    )


def _format() -> Any:
    """The `format` parameter of every list that also answers CSV (one definition)."""
    return Field(None, description="`csv` for CSV (as `Accept: text/csv`); default JSON")


class _Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_by_name=False, validate_by_alias=True)


class NoParams(_Params):
    """An endpoint without query parameters: any name given is refused."""


class ScopeParams(_Params):
    service: str | None = Field(
        None, description="one service (an alias from the catalog resolves to its service)", examples=["acme/payments"]
    )
    team: str | None = Field(None, description="the services of one team of the catalog", examples=["checkout"])
    environment: str | None = Field(
        None,
        description="`production` (default: deployments marked production) or an environment name",
        examples=["production", "staging"],
    )
    from_: str | None = Field(
        None,
        alias="from",
        description="window start, ISO 8601 date or date-time (no offset: UTC); default `to` - 30 days",
        examples=["2024-05-01", "2024-05-01T12:00:00Z"],
        json_schema_extra=_MOMENT,
    )
    to: str | None = Field(
        None,
        description="window end (exclusive), ISO 8601; default now",
        examples=["2024-06-01T00:00:00Z"],
        json_schema_extra=_MOMENT,
    )


class SeriesParams(ScopeParams):
    interval: Literal["day", "week", "month"] = Field(
        "day", description="bucket size; weeks start on Monday, months on the 1st (UTC)"
    )
    include: Literal["stages"] | None = Field(
        None, description="`stages`: each point also carries its lead-time stage breakdown (docs/metrics.md section 14)"
    )


class LeadTimeParams(ScopeParams):
    limit: int = Field(
        10, ge=1, le=MAX_SLOWEST, description=f"how many of the slowest changes to list (1-{MAX_SLOWEST}, default 10)"
    )


class ListParams(ScopeParams):
    limit: int = Field(DEFAULT_PAGE, ge=1, le=MAX_PAGE, description=f"page size (1-{MAX_PAGE}, default {DEFAULT_PAGE})")
    cursor: str | None = _cursor()
    format: Literal["json", "csv"] | None = _format()


class StreamParams(ScopeParams):
    last_event_id: str | None = Field(
        None, description="resume after this event (as the `Last-Event-ID` header; for clients that cannot send it)"
    )


class DeadLetterParams(_Params):
    source: str | None = Field(None, description="only this source (e.g. `github`, `jenkins`)", examples=["github"])
    since: str | None = Field(
        None, description="dead-lettered at or after, ISO 8601 (no offset: UTC)", json_schema_extra=_MOMENT
    )
    until: str | None = Field(None, description="dead-lettered before, ISO 8601", json_schema_extra=_MOMENT)
    error: str | None = Field(None, description="the error contains this text (case-insensitive)")
    state: Literal["open", "replayed", "all"] = Field("all", description="open (not replayed yet), replayed, or all")
    limit: int = Field(50, ge=1, le=500, description="page size (1-500, default 50)")
    cursor: str | None = _cursor()
    body: bool = Field(False, description="`true`: each letter with its body (base64; in CSV a `body_b64` column)")
    format: Literal["json", "csv"] | None = _format()


class DeadLetterOneParams(_Params):
    """`GET /api/v1/dead-letters/{id}`: no query parameters (the id is in the path)."""
