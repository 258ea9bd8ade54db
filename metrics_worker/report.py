"""Reads: pool the samples of a window over the chosen streams, then compute the metrics from the pool.

A window is two bisects per stream; counts are slice sums and the lead-time / restore / recovery samples
are concatenated and sorted once, so the cost is O(items in the window), whatever the history length.
"""

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import chain
from operator import is_not
from typing import cast

from metrics_worker import sketch
from metrics_worker.deployments import DeploymentLog
from metrics_worker.incidents import IncidentTimeline
from metrics_worker.levels import (
    change_failure_rate_level,
    deployment_frequency_level,
    lead_time_level,
    time_to_restore_level,
)
from metrics_worker.rollup import Rollup
from metrics_worker.stats import mean, median, p90, ratio
from metrics_worker.stream import Stream
from metrics_worker.timebase import US_PER_DAY
from schemas.metrics import DoraMetrics

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
    day_leads: list[list[float]] = field(default_factory=list)  # more: whole days' sorted lists, the rollup's own
    lead_histogram: Counter[int] | None = None  # instead of `leads`, for pools too large to sort
    without_changes: int = 0
    recoveries: list[float] = field(default_factory=list)
    rework: int = 0
    failed_attempts: int = 0
    restores: list[float] = field(default_factory=list)
    open_incidents: int = 0

    def add(self, stream: Stream, start: int, end: int) -> None:
        """Everything of one stream in [start, end)."""
        self.add_recorded(stream, start, end)
        self.add_open_rework(stream, start, end)

    def add_recorded(self, stream: Stream, start: int, end: int) -> None:
        """What the rollup records per day too: deployments, failed attempts, incidents of [start, end)."""
        log, timeline = stream.log, stream.timeline
        self.add_deployments(log, *log.window(start, end))
        self.failed_attempts += log.attempts_in(start, end)
        self.add_incidents(timeline, *timeline.window(start, end))

    def add_deployments(self, log: DeploymentLog, i: int, j: int) -> None:
        """Counts, deploy days, lead times and recoveries of the deployments [i, j) of a log."""
        if j > i:
            self.deployments += j - i
            self.days.update(log.day[i:j])
            self.failed += sum(log.failed[i:j])
            self.without_changes += sum(log.nochange[i:j])
            self.rework += sum(log.rework[i:j])
            self.leads.extend(chain.from_iterable(log.leads[i:j]))
            self.recoveries.extend(_present(log.recovery[i:j]))

    def add_incidents(self, timeline: IncidentTimeline, a: int, b: int) -> None:
        """The merged incidents [a, b) of a timeline."""
        if b > a:
            restore = timeline.restore[a:b]
            self.open_incidents += restore.count(None)
            self.restores.extend(_present(restore))

    def add_open_rework(self, stream: Stream, start: int, end: int) -> None:
        """Deployments of [start, end) finishing while the stream's open incident is open: rework that the
        log's column leaves out (so that a late alert costs nothing), added at read time."""
        open_since = stream.timeline.open_since()
        if open_since is not None:
            log = stream.log
            i, j = log.window(max(start, open_since), end)
            if j > i:
                self.rework += (j - i) - sum(log.rework[i:j])

    def add_days(self, rollup: Rollup, first: int, last: int) -> None:
        """All that `add_recorded` adds, for the whole days [first, last) of all services, from the rollup;
        the lead times as a histogram when they are more than EXACT_LEADS with those added before."""
        cells = rollup.cover(first, last)
        for cell in cells:
            self.deployments += cell.deployments
            self.failed += cell.failed
            self.without_changes += cell.nochange
            self.rework += cell.rework
        self.days.update(rollup.deploy_days(first, last))
        exact = sum(cell.changes for cell in cells) + len(self.leads) <= EXACT_LEADS
        for day in rollup.samples(first, last):
            if exact and day.leads:
                self.day_leads.append(day.leads)  # not copied: read, never changed
            self.recoveries += day.recoveries
            self.restores += day.restores
            self.open_incidents += day.open_incidents
            self.failed_attempts += day.failed_attempts
        if not exact:
            histogram = sketch.histogram(self.leads)
            for cell in cells:
                histogram.update(cell.leads)
            self.lead_histogram, self.leads = histogram, []


def pooled(streams: Iterable[Stream], start: int, end: int) -> Samples:
    samples = Samples()
    for stream in streams:
        samples.add(stream, start, end)
    return samples


def whole_days(start: int, end: int) -> tuple[int, int]:
    """The UTC days [first, last) that lie wholly in [start, end) (first >= last: none)."""
    return -(-start // US_PER_DAY), end // US_PER_DAY


def pooled_with_rollup(streams: list[Stream], rollup: Rollup, start: int, end: int) -> Samples:
    """All services of an environment: whole days from the rollup, the window's partial days from the logs.

    Same numbers as `pooled`, except that a lead-time pool larger than EXACT_LEADS is summarised by a
    histogram with 0.5 % relative accuracy instead of being sorted.
    """
    first_day, last_day = whole_days(start, end)
    if first_day >= last_day:
        return pooled(streams, start, end)
    edges = [(a, b) for a, b in ((start, first_day * US_PER_DAY), (last_day * US_PER_DAY, end)) if a < b]
    samples = Samples()
    for stream in streams:
        for a, b in edges:
            samples.add_recorded(stream, a, b)
        samples.add_open_rework(stream, start, end)
    samples.add_days(rollup, first_day, last_day)
    return samples


def dora_metrics(samples: Samples, start: int, end: int) -> DoraMetrics:
    days = (end - start) / US_PER_DAY
    per_day = samples.deployments / days if days > 0 else None
    if samples.lead_histogram is None:
        leads = _lead_times(samples)
        lead_median, lead_p90, changes = median(leads), p90(leads), len(leads)
        lead_mean = mean(leads)
    else:
        histogram = samples.lead_histogram
        lead_median, lead_p90 = sketch.quantile(histogram, 0.5), sketch.quantile(histogram, 0.9)
        changes = histogram.total()
        lead_mean = sketch.mean(histogram)
    restores = _sorted(samples.restores)
    restore_median = median(restores)
    recoveries = _sorted(samples.recoveries)
    cfr = ratio(samples.failed, samples.deployments)
    # one validation of nested dicts: half the cost of building the seven models one by one (a series
    # builds one per bucket)
    return DoraMetrics.model_validate(
        {
            "deployment_frequency": {
                "deployments": samples.deployments,
                "deploy_days": len(samples.days),
                "per_day": per_day,
                "failed_attempts": samples.failed_attempts,
                "level": deployment_frequency_level(samples.deployments, per_day),
            },
            "lead_time": {
                "median_seconds": lead_median,
                "mean_seconds": lead_mean,
                "p90_seconds": lead_p90,
                "changes": changes,
                "deployments_without_changes": samples.without_changes,
                "level": lead_time_level(lead_median),
            },
            "change_failure_rate": {
                "rate": cfr,
                "failed_deployments": samples.failed,
                "deployments": samples.deployments,
                "level": change_failure_rate_level(cfr),
            },
            "time_to_restore": {
                "median_seconds": restore_median,
                "mean_seconds": mean(restores),
                "p90_seconds": p90(restores),
                "incidents": len(restores),
                "open_incidents": samples.open_incidents,
                "level": time_to_restore_level(restore_median),
            },
            "failed_deployment_recovery": {
                "median_seconds": median(recoveries),
                "mean_seconds": mean(recoveries),
                "samples": len(recoveries),
            },
            "rework_rate": {
                "rate": ratio(samples.rework, samples.deployments),
                "rework_deployments": samples.rework,
                "deployments": samples.deployments,
            },
        }
    )


def _lead_times(samples: Samples) -> Sequence[float]:
    """All the lead times, sorted (a single whole day from the rollup as it is)."""
    if not samples.day_leads:
        return _sorted(samples.leads)
    if not samples.leads and len(samples.day_leads) == 1:
        return samples.day_leads[0]
    return sorted(chain(samples.leads, *samples.day_leads))


def _sorted(values: list[float]) -> list[float]:
    values.sort()
    return values
