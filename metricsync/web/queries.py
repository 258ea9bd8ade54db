"""The read API's query parameters, as models: the OpenAPI parameters and the strict parsing both come
from them (`metricsync.web.contract.parse_query`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_PAGE = 1000
DEFAULT_PAGE = 100
_MOMENT: dict[str, Any] = {"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]}


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


class ListParams(ScopeParams):
    limit: int = Field(DEFAULT_PAGE, ge=1, le=MAX_PAGE, description=f"page size (1-{MAX_PAGE}, default {DEFAULT_PAGE})")
    cursor: str | None = Field(
        None, description="opaque: the `cursor` of the `next` URL of the previous page", examples=["eyJrIjpbXX0"]
    )
    format: Literal["json", "csv"] | None = Field(
        None, description="`csv` for CSV (as `Accept: text/csv`); default JSON"
    )


class StreamParams(ScopeParams):
    last_event_id: str | None = Field(
        None, description="resume after this event (as the `Last-Event-ID` header; for clients that cannot send it)"
    )
