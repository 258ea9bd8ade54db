"""Reads: pool the samples of a window over the chosen streams, then compute the metrics from the pool.

A window is two bisects per stream; counts are slice sums and the lead-time / restore / recovery samples
are concatenated and sorted once, so the cost is O(items in the window), whatever the history length.
"""

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from itertools import chain
from operator import is_not
from typing import cast

from metrics_worker import sketch
from metrics_worker.deployments import DeploymentLog
from metrics_worker.levels import (
    change_failure_rate_level,
    deployment_frequency_level,
    lead_time_level,
    time_to_restore_level,
)
from metrics_worker.rollup import Cell, Rollup
from metrics_worker.stats import median, p90, ratio
from metrics_worker.stream import Stream
from metrics_worker.timebase import US_PER_DAY
from schemas.metrics import (
    ChangeFailureRate,
    DeploymentFrequency,
    DoraMetrics,
    FailedDeploymentRecovery,
    LeadTime,
    ReworkRate,
    TimeToRestore,
)

_NOT_NONE = partial(is_not, None)


def _present(values: Iterable[float | None]) -> Iterator[float]:
    """The values that are not None, filtered in C (this runs over every deployment of a window)."""
    return cast(Iterator[float], filter(_NOT_NONE, values))


EXACT_LEADS = 20_000  # pools up to this many lead times are sorted; larger ones use the day histograms


@dataclass(slots=True)
class Samples:
    deployments: int = 0
    days: set[int] = field(default_factory=set)
    failed: int = 0
    leads: list[float] = field(default_factory=list)
    lead_histogram: Counter[int] | None = None  # instead of `leads`, for pools too large to sort
    without_changes: int = 0
    recoveries: list[float] = field(default_factory=list)
    rework: int = 0
    failed_attempts: int = 0
    restores: list[float] = field(default_factory=list)
    open_incidents: int = 0

    def add(self, stream: Stream, start: int, end: int) -> None:
        log = stream.log
        i, j = log.window(start, end)
        self.add_counts(log, i, j)
        self.leads.extend(chain.from_iterable(log.leads[i:j]))
        self.add_others(stream, start, end, i, j)

    def add_counts(self, log: DeploymentLog, i: int, j: int) -> None:
        if j > i:
            self.deployments += j - i
            self.days.update(log.day[i:j])
            self.failed += sum(log.failed[i:j])
            self.without_changes += sum(log.nochange[i:j])
            self.rework += sum(log.rework[i:j])

    def add_cell(self, cell: Cell) -> None:
        self.deployments += cell.deployments
        self.failed += cell.failed
        self.without_changes += cell.nochange
        self.rework += cell.rework

    def add_others(self, stream: Stream, start: int, end: int, i: int, j: int) -> None:
        """Recoveries, rework during the open incident, failed attempts, incidents: [start, end) = [i, j)."""
        log = stream.log
        if j > i:
            self.recoveries.extend(_present(log.recovery[i:j]))
            open_since = stream.timeline.open_since()
            if open_since is not None:  # deployments finishing while the open incident is open
                first = bisect_left(log.fin, open_since, i, j)
                self.rework += (j - first) - sum(log.rework[first:j])
        self.failed_attempts += log.attempts_in(start, end)
        timeline = stream.timeline
        a, b = timeline.window(start, end)
        if b > a:
            restore = timeline.restore[a:b]
            self.open_incidents += restore.count(None)
            self.restores.extend(_present(restore))


def pooled(streams: Iterable[Stream], start: int, end: int) -> Samples:
    samples = Samples()
    for stream in streams:
        samples.add(stream, start, end)
    return samples


def pooled_with_rollup(streams: list[Stream], rollup: Rollup, start: int, end: int) -> Samples:
    """All services of an environment: whole days from the rollup, the window's partial days from the logs.

    Same numbers as `pooled`, except that a lead-time pool larger than EXACT_LEADS is summarised by a
    histogram with 0.5 % relative accuracy instead of being sorted.
    """
    first_day, last_day = -(-start // US_PER_DAY), end // US_PER_DAY
    if first_day >= last_day:
        return pooled(streams, start, end)
    middle = (first_day * US_PER_DAY, last_day * US_PER_DAY)
    edges = [(a, b) for a, b in ((start, middle[0]), (middle[1], end)) if a < b]
    samples = Samples()
    edge_leads: list[float] = []
    for stream in streams:
        log = stream.log
        i, j = log.window(start, end)
        samples.add_others(stream, start, end, i, j)
        for a, b in edges:
            ia, ja = log.window(a, b)
            samples.add_counts(log, ia, ja)
            edge_leads.extend(chain.from_iterable(log.leads[ia:ja]))
    cells = rollup.cover(first_day, last_day)
    for cell in cells:
        samples.add_cell(cell)
    samples.days.update(rollup.deploy_days(first_day, last_day))
    if sum(cell.changes for cell in cells) + len(edge_leads) <= EXACT_LEADS:
        samples.leads = edge_leads
        for stream in streams:
            i, j = stream.log.window(*middle)
            samples.leads.extend(chain.from_iterable(stream.log.leads[i:j]))
        return samples
    histogram = sketch.histogram(edge_leads)
    for cell in cells:
        histogram.update(cell.leads)
    samples.lead_histogram = histogram
    return samples


def dora_metrics(samples: Samples, start: int, end: int) -> DoraMetrics:
    days = (end - start) / US_PER_DAY
    per_day = samples.deployments / days if days > 0 else None
    if samples.lead_histogram is None:
        leads = _sorted(samples.leads)
        lead_median, lead_p90, changes = median(leads), p90(leads), len(leads)
    else:
        histogram = samples.lead_histogram
        lead_median, lead_p90 = sketch.quantile(histogram, 0.5), sketch.quantile(histogram, 0.9)
        changes = histogram.total()
    restores = _sorted(samples.restores)
    restore_median = median(restores)
    cfr = ratio(samples.failed, samples.deployments)
    return DoraMetrics(
        deployment_frequency=DeploymentFrequency(
            deployments=samples.deployments,
            deploy_days=len(samples.days),
            per_day=per_day,
            failed_attempts=samples.failed_attempts,
            level=deployment_frequency_level(samples.deployments, per_day),
        ),
        lead_time=LeadTime(
            median_seconds=lead_median,
            p90_seconds=lead_p90,
            changes=changes,
            deployments_without_changes=samples.without_changes,
            level=lead_time_level(lead_median),
        ),
        change_failure_rate=ChangeFailureRate(
            rate=cfr,
            failed_deployments=samples.failed,
            deployments=samples.deployments,
            level=change_failure_rate_level(cfr),
        ),
        time_to_restore=TimeToRestore(
            median_seconds=restore_median,
            p90_seconds=p90(restores),
            incidents=len(restores),
            open_incidents=samples.open_incidents,
            level=time_to_restore_level(restore_median),
        ),
        failed_deployment_recovery=FailedDeploymentRecovery(
            median_seconds=median(_sorted(samples.recoveries)),
            samples=len(samples.recoveries),
        ),
        rework_rate=ReworkRate(
            rate=ratio(samples.rework, samples.deployments),
            rework_deployments=samples.rework,
            deployments=samples.deployments,
        ),
    )


def _sorted(values: list[float]) -> list[float]:
    values.sort()
    return values
