"""The metric engine: unified events in, DORA metrics out, updated incrementally per event.

Pure: no I/O and no clock; callers pass the windows. State is kept per service and, within a service,
per environment key ("production" = events with production=True, or a lower-cased environment name).
Services are service ids (schemas.catalog.service_id): events carry them normalized, and callers
pass ids to the queries (the read API resolves names through the catalog). docs/metrics.md defines every metric.
"""

from collections.abc import Collection, Iterable, Iterator
from datetime import datetime, timedelta
from heapq import merge as merge_sorted
from typing import Any

from pydantic import BaseModel

from metrics_worker.deployments import DeployRec
from metrics_worker.insights.findings import findings
from metrics_worker.insights.inputs import InsightInput, Period
from metrics_worker.persist import export_state, import_state
from metrics_worker.report import Samples, dora_metrics, pooled, pooled_with_rollup
from metrics_worker.rollup import Rollup
from metrics_worker.series import pooled_series
from metrics_worker.stages import Change, breakdown, window_changes
from metrics_worker.stages import slowest as slowest_changes
from metrics_worker.state import ServiceState, environment_key, fact_time
from metrics_worker.stream import Stream
from metrics_worker.timebase import US, Interval, buckets, from_us, to_us
from metrics_worker.views import DeploymentRecord, deployment_view, incident_view
from schemas.events import UnifiedEvent
from schemas.insights import Finding
from schemas.leadtime import ChangeStages, StageBreakdown
from schemas.metrics import DeploymentView, DoraMetrics, IncidentView, SeriesPoint, ServiceSummary


class EngineConfig(BaseModel, frozen=True):
    # how long after a deployment an incident without an explicit cause is blamed on it; None or 0: no limit
    attribution_window: timedelta | None = timedelta(hours=72)
    # how much history each service keeps (see `prune`); None or 0: all of it
    retention: timedelta | None = None


class UnknownServiceError(KeyError):
    """export_service was asked for a service the engine has no state of."""


class MetricEngine:
    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        window = config.attribution_window
        self._window_us = window // US if window is not None and window > timedelta(0) else None
        retention = config.retention
        self._retention_us = retention // US if retention is not None and retention > timedelta(0) else None
        self._services: dict[str, ServiceState] = {}
        self._rollups: dict[str, Rollup] = {}  # environment key -> per-day totals over all services
        self.expired = 0  # events ignored because their fact is older than their service's horizon

    # --- writes ------------------------------------------------------------------------------------

    def apply(self, event: UnifiedEvent) -> frozenset[str]:
        """Apply one event; the services whose metrics may have changed (empty for a duplicate id)."""
        service = event.service
        state = self._services.get(service)
        if state is None:
            state = self._services[service] = ServiceState(service, self._window_us, self._rollup)
        if event.id in state.seen:
            return frozenset()
        fact = fact_time(event)
        if state.horizon is not None and fact < state.horizon:
            self.expired += 1
            return frozenset()
        state.touch(event.id, to_us(event.event_time), fact)
        return frozenset({service}) if state.apply(event) else frozenset()

    def knows(self, event: UnifiedEvent) -> bool:
        """Whether this event (its id, for its service) was applied already: a replay skips it."""
        state = self._services.get(event.service.strip().lower())
        return state is not None and event.id in state.seen

    def apply_many(self, events: Iterable[UnifiedEvent]) -> frozenset[str]:
        changed: set[str] = set()
        for event in events:
            changed |= self.apply(event)
        return frozenset(changed)

    def prune(self, now: datetime, limit: int | None = None) -> frozenset[str]:
        """Drop the history that has left the retention; the services whose state was rebuilt (at
        most `limit` of them, the most overdue first: a caller that must stay responsive calls again
        while it gets `limit` back).

        A service keeps the facts at or after its horizon: its last event (or `now`, if that is
        earlier, so a clock-skewed event from the future cannot expire everything) minus the retention.
        The state is rebuilt from the retained facts (export, move the horizon, import) only once it
        holds facts a quarter of the retention older than that, so each fact is replayed about four
        times over its life and a service holds at most 1.25 retentions of history.
        """
        retention = self._retention_us
        if retention is None:
            return frozenset()
        now_us = to_us(now)
        slack = retention // 4
        due = []
        for name, state in self._services.items():
            if state.oldest is None or state.last_event is None:
                continue
            horizon = min(state.last_event, now_us) - retention
            if state.oldest < horizon - slack:
                due.append((state.oldest - horizon, name, state, horizon))
        due.sort(key=lambda row: (row[0], row[1]))
        pruned = [(name, state, horizon) for _, name, state, horizon in due[:limit]]
        for name, state, horizon in pruned:
            data = export_state(state)
            data["horizon"] = max(horizon, state.horizon or horizon)
            self.import_service(name, data)
        return frozenset(name for name, _, _ in pruned)

    # --- reads -------------------------------------------------------------------------------------

    def report(self, services: Collection[str] | None, environment: str, start: datetime, end: datetime) -> DoraMetrics:
        """The metrics of the window [start, end), pooled over `services` (None: all services)."""
        lo, hi = to_us(start), to_us(end)
        return dora_metrics(self._pool(services, environment, lo, hi), lo, hi)

    def series(
        self,
        services: Collection[str] | None,
        environment: str,
        start: datetime,
        end: datetime,
        interval: Interval,
    ) -> list[SeriesPoint]:
        """One point per UTC day / ISO week / calendar month bucket, the first and last clipped to the window.

        Each point is the report of its bucket, but the buckets are pooled in one pass over the streams
        (series.py) rather than one pool per bucket.
        """
        spans = buckets(start, end, interval)
        bounds = [(to_us(a), to_us(b)) for a, b in spans]
        streams = [stream for _, stream in self._streams(services, environment)]
        rollup = self._rollups.get(environment_key(environment)) if services is None else None
        pools = pooled_series(streams, rollup, bounds)
        return [
            SeriesPoint(from_=a, to=b, metrics=dora_metrics(samples, lo, hi))
            for (a, b), (lo, hi), samples in zip(spans, bounds, pools, strict=True)
        ]

    def lead_time(
        self,
        services: Collection[str] | None,
        environment: str,
        start: datetime,
        end: datetime,
        slowest: int = 10,
    ) -> tuple[StageBreakdown, list[ChangeStages]]:
        """The lead-time breakdown of the changes of the deployments finishing in [start, end), and the
        `slowest` of them (docs/metrics.md section 7)."""
        changes = self._changes(services, environment, to_us(start), to_us(end))
        return breakdown(changes), slowest_changes(changes, slowest, environment_key(environment))

    def stage_series(
        self,
        services: Collection[str] | None,
        environment: str,
        start: datetime,
        end: datetime,
        interval: Interval,
    ) -> list[StageBreakdown]:
        """The breakdown of each bucket of `series` (same buckets)."""
        return [
            breakdown(self._changes(services, environment, to_us(a), to_us(b)))
            for a, b in buckets(start, end, interval)
        ]

    def insights(
        self,
        services: Collection[str] | None,
        environment: str,
        start: datetime,
        end: datetime,
        *,
        scope: dict[str, str] | None = None,
        teams: dict[str, str] | None = None,
        unknown_service: str | None = None,
        dead_letters: int | None = None,
    ) -> list[Finding]:
        """The findings of [start, end) against the window of the same length before it (docs/metrics.md
        section 15). `scope` is the query the links carry ({"service": ...} or {"team": ...}); `teams`
        maps services to teams for team drivers; incidents of `unknown_service` are reported as incidents
        without a service; `dead_letters` is the count the runtime knows (None: not reported)."""
        previous_start = start - (end - start)

        def period(lo: datetime, hi: datetime) -> Period:
            # the engine's records, not their views: the rules read a few fields of every one
            rows = self._deployment_rows(services, environment, to_us(lo), to_us(hi))
            return Period(
                deployments=[
                    DeploymentRecord(service, stream, rec, self._services[service].derived)
                    for service, stream, rec in rows
                ],
                incidents=self.incidents(services, environment, lo, hi),
                changes=self._changes(services, environment, to_us(lo), to_us(hi)),
            )

        known = [name for name, _ in self._streams(services, environment)]
        data = InsightInput(
            scope=scope or {},
            environment=environment,
            start=start,
            end=end,
            previous_start=previous_start,
            current=period(start, end),
            previous=period(previous_start, start),
            services=known,
            teams=teams or {},
            unknown_incidents=[]
            if unknown_service is None
            else self.incidents([unknown_service], environment, start, end),
            dead_letters=dead_letters,
            history_from=self.first_deployment(services, environment),
        )
        return findings(data)

    def _changes(self, services: Collection[str] | None, environment: str, lo: int, hi: int) -> list[Change]:
        out: list[Change] = []
        for service, stream in self._streams(services, environment):
            state = self._services[service]
            out.extend(window_changes(service, stream, state.pulls, lo, hi, state.derived))
        return out

    def deployments(
        self, services: Collection[str] | None, environment: str, start: datetime, end: datetime
    ) -> list[DeploymentView]:
        """Successful deployments finishing in [start, end), by finish time."""
        rows = self._deployment_rows(services, environment, to_us(start), to_us(end))
        return [deployment_view(service, stream, rec) for service, stream, rec in rows]

    def _deployment_rows(
        self, services: Collection[str] | None, environment: str, lo: int, hi: int
    ) -> list[tuple[str, Stream, DeployRec]]:
        """(service, stream, record) of the deployments finishing in [lo, hi), by finish time, then service."""
        per_stream = []
        for service, stream in self._streams(services, environment):
            i, j = stream.log.window(lo, hi)
            per_stream.append([(rec.key, service, stream, rec) for rec in stream.log.recs[i:j]])
        ordered = merge_sorted(*per_stream, key=lambda row: (row[0], row[1]))
        return [(service, stream, rec) for _, service, stream, rec in ordered]

    def negative_lead_times(
        self, services: Collection[str] | None, environment: str, start: datetime, end: datetime
    ) -> int:
        """Changes of the deployments finishing in [start, end) committed after the deployment (clock
        skew, rewritten commits): the drill-down shows them, the lead time does not count them. The
        count `deployments()` views give, without building them."""
        lo, hi = to_us(start), to_us(end)
        count = 0
        for _, stream in self._streams(services, environment):
            times = stream.graph.commit_time
            i, j = stream.log.window(lo, hi)
            for rec in stream.log.recs[i:j]:
                count += sum(1 for node in rec.owned if (t := times.get(node)) is not None and t > rec.finish)
        return count

    def incidents(
        self, services: Collection[str] | None, environment: str, start: datetime, end: datetime
    ) -> list[IncidentView]:
        """Merged incidents starting in [start, end), by start."""
        lo, hi = to_us(start), to_us(end)
        key = environment_key(environment)
        views = [
            incident_view(service, key, stream, incident)
            for service, stream in self._streams(services, environment)
            for incident in stream.timeline.starting_in(lo, hi)
        ]
        return sorted(views, key=lambda v: (v.started_at, v.service, v.incident_id))

    def horizon(self, service: str) -> datetime | None:
        """The moment before which the service's history was dropped (None: it has all of it)."""
        state = self._services.get(service)
        return None if state is None or state.horizon is None else from_us(state.horizon)

    def first_deployment(self, services: Collection[str] | None, environment: str) -> datetime | None:
        """When the scope's record of deployments begins: the finish of the earliest deployment held
        among `services` (None: all) in `environment`; None when it has none."""
        firsts = [stream.log.fin[0] for _, stream in self._streams(services, environment) if stream.log.fin]
        return from_us(min(firsts)) if firsts else None

    def history_from(self, services: Collection[str] | None, environment: str, start: datetime) -> datetime | None:
        """The scope's first deployment on record if it is after `start` (a window from `start` begins
        before anything MetricSync was told of); None when the record began before `start` or is empty."""
        first = self.first_deployment(services, environment)
        return first if first is not None and first > start else None

    def retained_from(self, services: Collection[str] | None, start: datetime) -> datetime | None:
        """The latest horizon among `services` (None: all) if it is after `start`: a window from
        `start` reaches back past the history kept, so facts before that moment are missing. None when
        the whole window is kept."""
        states = (
            self._services.values()
            if services is None
            else (s for s in (self._services.get(name) for name in services) if s is not None)
        )
        latest = max((s.horizon for s in states if s.horizon is not None), default=None)
        return None if latest is None or latest <= to_us(start) else from_us(latest)

    def services(self) -> list[ServiceSummary]:
        return [
            ServiceSummary(
                service=service,
                environments=sorted(state.streams),
                last_event_at=None if state.last_event is None else from_us(state.last_event),
                retained_from=None if state.horizon is None else from_us(state.horizon),
            )
            for service, state in sorted(self._services.items())
        ]

    # --- state -------------------------------------------------------------------------------------

    def export_service(self, service: str) -> dict[str, Any]:
        """The JSON-able (orjson) state of one service: enough for import_service to restore it exactly."""
        state = self._services.get(service)
        if state is None:
            raise UnknownServiceError(f"service '{service}' has no state in this engine; apply its events first")
        return export_state(state)

    def import_service(self, service: str, state: dict[str, Any]) -> None:
        """Replace the state of one service with one export_service returned."""
        restored = import_state(service, state, self._window_us, self._rollup)
        old = self._services.get(service)
        if old is not None:
            old.detach()
        self._services[service] = restored

    def _rollup(self, key: str) -> Rollup:
        rollup = self._rollups.get(key)
        if rollup is None:
            rollup = self._rollups[key] = Rollup()
        return rollup

    def _pool(self, services: Collection[str] | None, environment: str, start: int, end: int) -> Samples:
        streams = [stream for _, stream in self._streams(services, environment)]
        rollup = self._rollups.get(environment_key(environment))
        if services is None and rollup is not None:
            return pooled_with_rollup(streams, rollup, start, end)
        return pooled(streams, start, end)

    def _streams(self, services: Collection[str] | None, environment: str) -> Iterator[tuple[str, Stream]]:
        key = environment_key(environment)
        names = sorted(self._services) if services is None else sorted(set(services))
        for name in names:
            state = self._services.get(name)
            stream = state.streams.get(key) if state is not None else None
            if stream is not None:
                yield name, stream
