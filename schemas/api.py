"""The HTTP contract's envelopes: what each endpoint answers, around the metric models of `schemas.metrics`.

These models are the one source of truth for `/openapi.json` (docs/api.md): the read API builds its
answers from them, and the OpenAPI document is generated from their JSON schemas.
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.leadtime import StageBreakdown
from schemas.metrics import DeploymentView, DoraMetrics, IncidentView, Scope, SeriesPoint, ServiceSummary


class ErrorBody(BaseModel):
    """Every refusal (4xx, 5xx): a short machine code and a sentence naming the problem and the fix."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={"examples": [{"error": "unknown_parameter", "detail": "unknown query parameter 'env'"}]},
    )

    error: str = Field(description="short machine-readable code, e.g. `bad_time`, `unknown_service`")
    detail: str = Field(description="what is wrong and how to fix it")


class ServiceRow(ServiceSummary):
    """A service with the team the catalog gives it (null: no team)."""

    team: str | None = None


class ServicesResponse(BaseModel):
    """`GET /api/v1/services`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    services: list[ServiceRow]


class ServiceMetrics(DoraMetrics):
    """One service's metrics over the window, with its team (the dashboard's services table)."""

    service: str
    team: str | None


class ServicesMetricsResponse(BaseModel):
    """`GET /api/v1/dora/services`: one row per service of the scope."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scope: Scope
    services: list[ServiceMetrics]


class QualityResponse(BaseModel):
    """`GET /api/v1/quality`: what makes the numbers of the scope less trustworthy, counted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scope: Scope
    dead_letters: int | None = Field(
        description="deliveries no event could be derived from and no replay has mapped since (all services)"
    )
    deployments_without_changes: int
    deployments: int
    incidents_without_service: int
    negative_lead_time_changes: int


class SeriesScope(Scope):
    interval: Literal["day", "week", "month"]


class StagedSeriesPoint(SeriesPoint):
    stages: StageBreakdown | None = Field(
        None, description="only with `include=stages`: the bucket's lead-time stage breakdown (as /api/v1/lead-time)"
    )


class SeriesResponse(BaseModel):
    """`GET /api/v1/dora/series`: one point per bucket [from, to) of the window."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scope: SeriesScope
    points: list[StagedSeriesPoint]


class DeploymentsPage(BaseModel):
    """`GET /api/v1/deployments`: one page, oldest first; `next` is the URL of the following page."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scope: Scope
    deployments: list[DeploymentView]
    next: str | None = Field(description="URL of the next page (same query, `cursor` set); null on the last")


class IncidentsPage(BaseModel):
    """`GET /api/v1/incidents`: one page, oldest first; `next` is the URL of the following page."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scope: Scope
    incidents: list[IncidentView]
    next: str | None = Field(description="URL of the next page (same query, `cursor` set); null on the last")


class WebhookAck(BaseModel):
    """A webhook stored (202), or GitHub's ping answered (200, `pong`, not stored)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: Literal["accepted", "ignored", "duplicate", "pong"] = Field(
        description="accepted: new and mapped; ignored: stored raw, of an event type the metrics do not use; "
        "duplicate: seen before, nothing changed; pong: GitHub's ping, answered, not stored"
    )
    delivery_id: str | None


class Health(BaseModel):
    """`GET /healthz` (200 while serving) and `GET /readyz` (200 ready, 503 with the reason)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: Literal["ok", "ready", "unavailable"]
    reason: str | None = None
    verification: dict[str, str] = Field(
        description="per source: hmac-sha256, hmac-sha256+sha1, token, off (unsigned accepted), unconfigured"
    )


class Probe(BaseModel):
    """`GET /healthz` (200 while serving) and `GET /readyz` (200 ready, 503 with the reason) of
    `metricsync api`, which takes no webhooks (so has no `verification`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: Literal["ok", "ready", "unavailable"]
    reason: str | None = Field(None, description="why it is not ready (the store does not answer)")


class LogPositions(BaseModel):
    """Embedded mode: sequence numbers in the raw log (positions, not counts: the log has gaps)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    raw_last: int = Field(description="the newest raw delivery's sequence number")
    normalized_through: int = Field(description="the normalizer has handled every delivery up to this one")


class GroupLag(BaseModel):
    """Distributed mode: one consumer group's lag on its topic (end offsets - committed offsets)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    group: str
    topic: str
    lag: int | None = Field(description="records not yet committed by the group; null: Kafka did not answer")


class RulesStatus(BaseModel):
    """Fingerprints of the catalog aliases and mapping settings (docs/operations.md, "Catalog and rule
    changes"): what the stored events were derived with, and what the normalizers now use."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    derived_with: str | None
    normalizer: str | None
    rebuild_needed: bool = Field(description="they differ: `metricsync rebuild` re-derives the history")


class Status(BaseModel):
    """`GET /api/v1/status`: how far the pipeline is, in either mode. `raw_deliveries`, `events` and
    `dead_letters` are counts of stored items; log positions are under `positions` (embedded) and
    consumer offsets under `consumers` (distributed). `caught_up` and `lag` read the same in both:
    everything received has reached the metrics, and how many deliveries or events have not yet."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    as_of: datetime
    mode: Literal["embedded", "distributed", "starting"]
    caught_up: bool | None = Field(description="null: not known (Kafka did not answer)")
    lag: int | None = Field(description="deliveries and events received but not yet in the metrics")
    raw_deliveries: int | None = None
    events: int | None = None
    dead_letters: int | None = Field(None, description="open dead letters (no replay has mapped them since)")
    normalizer_lag: int | None = None
    worker_pending: int | None = None
    worker_dead_letters: int | None = Field(
        None, description="embedded: events the worker could not apply, dropped one by one and counted"
    )
    worker_error: str | None = Field(
        None, description="embedded: why the worker is rebuilding its state from the store (null: healthy)"
    )
    positions: LogPositions | None = None
    consumers: list[GroupLag] | None = None
    rules: RulesStatus | None = None
    error: str | None = Field(None, description="why a part of the status is missing")


class DeadLetter(BaseModel):
    """A delivery no event could be derived from (docs/operations.md, "Dead letters"). The same in both
    modes; embedded mode keeps no Kafka position (`topic`, `partition`, `offset` are null there)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="the delivery id")
    source: str | None
    event_type: str | None
    error: str | None
    topic: str | None = Field(description="the raw record's Kafka topic (null: embedded mode, or unknown)")
    partition: int | None = Field(description="the raw record's Kafka partition (null: embedded mode, or unknown)")
    offset: int | None = Field(
        description="the raw record's Kafka offset (null: embedded mode, whose raw log is SQLite, or unknown)"
    )
    received_at: str | None
    at: str | None = Field(description="when it was dead-lettered (ISO 8601, UTC); the list is ordered by it")
    body_bytes: int
    replayed_at: str | None = Field(description="when a replay mapped it (null: open, not replayed)")
    replayed_events: int | None = Field(description="how many events that replay derived")
    last_replay_error: str | None = Field(
        description="the error of the last replay that failed (`error` stays the first one)"
    )
    body_b64: str | None = Field(None, description="the body, base64 (with `body=true`, and always for one letter)")


class DeadLettersPage(BaseModel):
    """`GET /api/v1/dead-letters`: one page, oldest first (`at`, then id); `next` is the URL of the following
    page."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dead_letters: list[DeadLetter]
    total: int = Field(description="how many letters match the filters (on all pages)")
    limit: int
    next: str | None = Field(description="URL of the next page (same query, `cursor` set); null on the last")
