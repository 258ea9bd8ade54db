"""Reads: pool the samples of a window over the chosen streams, then compute the metrics from the pool.

A window is two bisects per stream; counts are slice sums and the lead-time / restore / recovery samples
are concatenated and sorted once, so the cost is O(items in the window), whatever the history length.
"""

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import chain

from metrics_worker.levels import (
    change_failure_rate_level,
    deployment_frequency_level,
    lead_time_level,
    time_to_restore_level,
)
from metrics_worker.stats import median, p90, ratio
from metrics_worker.stream import Stream
from metrics_worker.timebase import US_PER_DAY, US_PER_SECOND
from schemas.metrics import (
    ChangeFailureRate,
    DeploymentFrequency,
    DoraMetrics,
    FailedDeploymentRecovery,
    LeadTime,
    ReworkRate,
    TimeToRestore,
)


@dataclass(slots=True)
class Samples:
    deployments: int = 0
    days: set[int] = field(default_factory=set)
    failed: int = 0
    leads: list[int] = field(default_factory=list)
    without_changes: int = 0
    recoveries: list[int] = field(default_factory=list)
    rework: int = 0
    failed_attempts: int = 0
    restores: list[int] = field(default_factory=list)
    open_incidents: int = 0

    def add(self, stream: Stream, start: int, end: int) -> None:
        log = stream.log
        i, j = log.window(start, end)
        if j > i:
            self.deployments += j - i
            self.days.update(log.day[i:j])
            self.failed += sum(log.failed[i:j])
            self.leads.extend(chain.from_iterable(log.leads[i:j]))
            self.without_changes += sum(log.nochange[i:j])
            self.recoveries.extend(r for r in log.recovery[i:j] if r is not None)
            self.rework += rework_count(stream, i, j)
        self.failed_attempts += log.attempts_in(start, end)
        for incident in stream.timeline.starting_in(start, end):
            if incident.end is None:
                self.open_incidents += 1
            else:
                self.restores.append(incident.end - incident.start)


def rework_count(stream: Stream, i: int, j: int) -> int:
    """Deployments [i, j) of the log that are rollbacks or finish while an incident is open."""
    log, timeline = stream.log, stream.timeline
    low, high = log.fin[i], log.fin[j - 1]
    covered = 0
    at = max(bisect_right(timeline.starts, low) - 1, 0)
    while at < len(timeline.merged) and timeline.merged[at].start <= high:
        incident = timeline.merged[at]
        first = bisect_left(log.fin, incident.start, i, j)
        last = j if incident.end is None else bisect_left(log.fin, incident.end, i, j)
        covered += max(last - first, 0)
        at += 1
    r0 = bisect_left(log.rollback_keys, log.keys[i])
    r1 = bisect_right(log.rollback_keys, log.keys[j - 1])
    both = sum(1 for key in log.rollback_keys[r0:r1] if timeline.covering(key[0]) is not None)
    return covered + (r1 - r0) - both


def pooled(streams: Iterable[Stream], start: int, end: int) -> Samples:
    samples = Samples()
    for stream in streams:
        samples.add(stream, start, end)
    return samples


def dora_metrics(samples: Samples, start: int, end: int) -> DoraMetrics:
    days = (end - start) / US_PER_DAY
    per_day = samples.deployments / days if days > 0 else None
    leads = _seconds(samples.leads)
    lead_median = median(leads)
    restores = _seconds(samples.restores)
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
            p90_seconds=p90(leads),
            changes=len(leads),
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
            median_seconds=median(_seconds(samples.recoveries)),
            samples=len(samples.recoveries),
        ),
        rework_rate=ReworkRate(
            rate=ratio(samples.rework, samples.deployments),
            rework_deployments=samples.rework,
            deployments=samples.deployments,
        ),
    )


def _seconds(values: list[int]) -> list[float]:
    values.sort()
    return [v / US_PER_SECOND for v in values]
