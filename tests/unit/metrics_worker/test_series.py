"""Series: one pass over the streams gives exactly the report of each bucket on its own.

The reference below is the per-bucket pooling as it was before series.py (every bucket pooled on its own,
whole days of all-services pools from the rollup's day cells, their lead times from the logs); the
randomized test compares the series against it over random histories, scopes, environments, intervals,
windows whose edges fall mid-day, and lead-time thresholds that send some buckets to the histogram.
"""

import random
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Collection
from datetime import datetime, timedelta
from itertools import chain

import orjson
import pytest

from metrics_worker import report as report_module
from metrics_worker import sketch
from metrics_worker.engine import MetricEngine
from metrics_worker.report import Samples, dora_metrics
from metrics_worker.rollup import Day, Rollup
from metrics_worker.state import environment_key
from metrics_worker.stream import Stream
from metrics_worker.timebase import US_PER_DAY, Interval, buckets, day_of, to_us
from schemas.events import DeploymentStatus
from schemas.metrics import SeriesPoint
from tests.unit.metrics_worker.factories import HOUR, ZERO, at, deploy, engine_of, incident, push
from tests.unit.metrics_worker.randomized import random_stream

SCOPES: list[list[str] | None] = [None, ["alpha"], ["beta"], ["alpha", "beta"], ["Beta", "nope"], ["nope"]]
ENVIRONMENTS = ["production", "prod-eu", "Staging ", "qa"]
INTERVALS: list[Interval] = ["day", "week", "month"]
FIXED_WINDOWS = [
    (at(-7.5), at(230.25)),  # everything, both edges mid-day
    (at(24), at(96)),  # whole days only
    (at(2), at(9)),  # within one day
    (at(20.5), at(30)),  # across midnight, no whole day
    (at(-24 * 40), at(24 * 35 + 0.1)),  # months around the stream
]


# --- the reference: one pool per bucket, as before series.py ---------------------------------------------


def _old_add(samples: Samples, stream: Stream, start: int, end: int, deployments: bool = True) -> None:
    log, timeline = stream.log, stream.timeline
    i, j = log.window(start, end)
    if deployments:
        _old_add_counts(samples, stream, start, end)
        samples.leads.extend(chain.from_iterable(log.leads[i:j]))
    if j > i:
        samples.recoveries.extend(r for r in log.recovery[i:j] if r is not None)
        open_since = timeline.open_since()
        if open_since is not None:
            first = bisect_left(log.fin, open_since, i, j)
            samples.rework += (j - first) - sum(log.rework[first:j])
    samples.failed_attempts += log.attempts_in(start, end)
    a, b = timeline.window(start, end)
    samples.open_incidents += timeline.restore[a:b].count(None)
    samples.restores.extend(r for r in timeline.restore[a:b] if r is not None)


def _old_add_counts(samples: Samples, stream: Stream, start: int, end: int) -> None:
    log = stream.log
    i, j = log.window(start, end)
    samples.deployments += j - i
    samples.days.update(log.day[i:j])
    samples.failed += sum(log.failed[i:j])
    samples.without_changes += sum(log.nochange[i:j])
    samples.rework += sum(log.rework[i:j])


def _old_pooled_with_rollup(streams: list[Stream], rollup: Rollup, start: int, end: int) -> Samples:
    first_day, last_day = -(-start // US_PER_DAY), end // US_PER_DAY
    samples = Samples()
    if first_day >= last_day:
        for stream in streams:
            _old_add(samples, stream, start, end)
        return samples
    middle = (first_day * US_PER_DAY, last_day * US_PER_DAY)
    edges = [(a, b) for a, b in ((start, middle[0]), (middle[1], end)) if a < b]
    edge_leads: list[float] = []
    for stream in streams:
        _old_add(samples, stream, start, end, deployments=False)
        for a, b in edges:
            _old_add_counts(samples, stream, a, b)
            i, j = stream.log.window(a, b)
            edge_leads.extend(chain.from_iterable(stream.log.leads[i:j]))
    cells = rollup.cover(first_day, last_day)
    for cell in cells:
        samples.deployments += cell.deployments
        samples.failed += cell.failed
        samples.without_changes += cell.nochange
        samples.rework += cell.rework
    samples.days.update(rollup.deploy_days(first_day, last_day))
    if sum(cell.changes for cell in cells) + len(edge_leads) <= report_module.EXACT_LEADS:
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


def _old_series(
    engine: MetricEngine,
    services: Collection[str] | None,
    environment: str,
    start: datetime,
    end: datetime,
    interval: Interval,
) -> list[SeriesPoint]:
    streams = [stream for _, stream in engine._streams(services, environment)]
    rollup = engine._rollups.get(environment_key(environment))
    points = []
    for a, b in buckets(start, end, interval):
        lo, hi = to_us(a), to_us(b)
        if services is None and rollup is not None:
            samples = _old_pooled_with_rollup(streams, rollup, lo, hi)
        else:
            samples = Samples()
            for stream in streams:
                _old_add(samples, stream, lo, hi)
        points.append(SeriesPoint(from_=a, to=b, metrics=dora_metrics(samples, lo, hi)))
    return points


# --- tests ----------------------------------------------------------------------------------------------


def _random_window(rng: random.Random) -> tuple[datetime, datetime]:
    start = at(rng.uniform(-60, 150)) + timedelta(microseconds=rng.randrange(1_000_000))
    return start, start + timedelta(hours=rng.choice([1, 20, 50, 200, 2000]) * rng.random())


@pytest.mark.parametrize("seed", range(16))
def test_series_equals_one_pool_per_bucket(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    events = random_stream(seed)
    rng.shuffle(events)
    engine = engine_of(events)
    windows = [*FIXED_WINDOWS, *(_random_window(rng) for _ in range(3))]
    for exact_leads in (report_module.EXACT_LEADS, 0, rng.randint(1, 8)):
        monkeypatch.setattr(report_module, "EXACT_LEADS", exact_leads)
        for services in SCOPES:
            for environment in ENVIRONMENTS:
                for interval in INTERVALS:
                    for start, end in windows:
                        if interval == "day" and end - start > timedelta(days=40):
                            continue
                        got = engine.series(services, environment, start, end, interval)
                        want = _old_series(engine, services, environment, start, end, interval)
                        assert got == want, (services, environment, interval, start, end, exact_leads)
        # and the report of a bucket (pooled_with_rollup now reading whole days from the rollup) agrees
        for point in engine.series(None, "production", *windows[0], "day"):
            assert engine.report(None, "production", point.from_, point.to) == point.metrics


@pytest.mark.parametrize("seed", range(20))
def test_rollup_keeps_the_samples_of_each_day(seed: int) -> None:
    """What reads take from the rollup for whole days equals the logs' and timelines', after events in any
    order and a service replaced in place."""
    rng = random.Random(seed)
    events = random_stream(seed)
    rng.shuffle(events)
    engine = engine_of(events[: len(events) // 2])
    engine.import_service("alpha", orjson.loads(orjson.dumps(engine.export_service("alpha"))))
    engine.apply_many(events[len(events) // 2 :])
    for key, rollup in engine._rollups.items():
        want: dict[int, Day] = defaultdict(Day)
        for _, stream in engine._streams(None, key):
            log, timeline = stream.log, stream.timeline
            for day, times, recovery in zip(log.day, log.leads, log.recovery, strict=True):
                want[day].leads += times
                want[day].recoveries += [] if recovery is None else [recovery]
            for finish, _ in log.attempts:
                want[day_of(finish)].failed_attempts += 1
            for start, restore in zip(timeline.starts, timeline.restore, strict=True):
                if restore is None:
                    want[day_of(start)].open_incidents += 1
                else:
                    want[day_of(start)].restores.append(restore)
        for samples in want.values():
            for values in (samples.leads, samples.recoveries, samples.restores):
                values.sort()
        assert {day: s for day, s in rollup.days.items() if s != Day()} == {d: s for d, s in want.items() if s != Day()}


def test_series_by_hand() -> None:
    """Window [Mon 12:00, Wed 06:00) in days: a clipped first bucket, a whole day, a clipped last one."""
    engine = engine_of(
        push("A0", ZERO, [("a0", 4)], service="a"),
        deploy("DA0", "a0", 5, service="a"),  # before the window
        push("A1", "a0", [("a1", 10), ("a2", 11)], service="a"),
        deploy("DA1", "a2", 13, service="a"),  # leads 3h, 2h
        incident("IA", 14, 16, service="a"),  # fails DA1: restore 2h, recovery 3h
        push("B1", ZERO, [("b1", 20)], service="b"),
        deploy("DB1", "b1", 26, service="b"),  # lead 6h
        deploy("DBX", "b1", 30, service="b", status=DeploymentStatus.FAILURE),  # a failed attempt
        incident("IB", 40, None, service="b"),  # open; fails DB1, which does not recover
        push("B2", "b1", [("b2", 41)], service="b"),
        deploy("DB2", "b2", 45, service="b"),  # lead 4h, during the open incident: rework
        push("A2", "a2", [("a3", 47)], service="a"),
        deploy("DA2", "a3", 50, service="a"),  # lead 3h
        deploy("DB3", "b2", 60, service="b"),  # after the window
    )

    def numbers(point: SeriesPoint) -> list[object]:
        m = point.metrics
        frequency, lead, cfr, restore = m.deployment_frequency, m.lead_time, m.change_failure_rate, m.time_to_restore
        recovery, rework = m.failed_deployment_recovery, m.rework_rate
        return [
            *(frequency.deployments, frequency.deploy_days, frequency.per_day, frequency.failed_attempts),
            *(lead.median_seconds, lead.p90_seconds, lead.changes, lead.deployments_without_changes),
            *(cfr.failed_deployments, cfr.rate),
            *(restore.incidents, restore.open_incidents, restore.median_seconds),
            *(recovery.samples, recovery.median_seconds),
            *(rework.rework_deployments, rework.rate),
        ]

    expected = [
        [
            *(1, 1, 2.0, 0),  # DA1 in half a day
            *(2.5 * HOUR, 2.9 * HOUR, 2, 0),  # [2h, 3h]: p90 = 2h + 0.9 * 1h
            *(1, 1.0),
            *(1, 0, 2 * HOUR),
            *(1, 3 * HOUR),
            *(0, 0.0),
        ],
        [
            *(2, 1, 2.0, 1),  # DB1, DB2 on Tuesday; the failed attempt DBX
            *(5 * HOUR, 5.8 * HOUR, 2, 0),  # [4h, 6h]
            *(1, 0.5),  # DB1, failed by the open IB
            *(0, 1, None),
            *(0, None),
            *(1, 0.5),  # DB2 finished during IB
        ],
        [
            *(1, 1, 4.0, 0),  # DA2 in a quarter of a day
            *(3 * HOUR, 3 * HOUR, 1, 0),
            *(0, 0.0),
            *(0, 0, None),
            *(0, None),
            *(0, 0.0),
        ],
    ]
    for services in (None, ["a", "b"]):
        points = engine.series(services, "production", at(12), at(54), "day")
        assert [(p.from_, p.to) for p in points] == [(at(12), at(24)), (at(24), at(48)), (at(48), at(54))]
        for point, want in zip(points, expected, strict=True):
            assert numbers(point) == pytest.approx(want)
    [week] = engine.series(None, "production", at(12), at(54), "week")
    assert week.metrics == engine.report(None, "production", at(12), at(54))
    assert numbers(week)[:4] == [4, 3, pytest.approx(4 / 1.75), 1]
