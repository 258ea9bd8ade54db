"""Totals of one environment key across all services, per UTC day and per aligned block of 8, 64 and 512
days, and the exact samples of each day, kept up to date by the deployment logs and incident timelines.

A report over all services reads the whole days of its window as a handful of blocks (a year is at most
~20 of them, instead of one slice per service) and only the partial days at the window's edges from the
services' logs. Counts are exact; the lead-time distribution is a log-bucket histogram (sketch.py), used
only when the pool is too large to sort. The samples of a day (`Day`: lead, recovery and restore times,
sorted, the same float objects as the logs'; open incidents and failed attempts) let such a report, and
a series of day / week / month buckets, take whole days without visiting every service.
"""

from bisect import bisect_left, insort
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from metrics_worker.sketch import bucket

BLOCKS = (1, 8, 64, 512)  # days per cell, one level each


@dataclass(slots=True)
class Cell:
    deployments: int = 0
    failed: int = 0
    nochange: int = 0
    rework: int = 0
    changes: int = 0
    leads: Counter[int] = field(default_factory=Counter)


@dataclass(slots=True)
class Day:
    """The samples of one day over all services: deployments finishing on it (their lead times and
    recovery times), incidents starting on it (restore times, or open), failed attempts finishing on it."""

    leads: list[float] = field(default_factory=list)  # each list sorted
    recoveries: list[float] = field(default_factory=list)
    restores: list[float] = field(default_factory=list)
    open_incidents: int = 0
    failed_attempts: int = 0


class Rollup:
    def __init__(self) -> None:
        self.levels: list[dict[int, Cell]] = [{} for _ in BLOCKS]
        self.days: dict[int, Day] = {}  # kept once a day has had a sample (a few hundred bytes a day)

    def count(self, day: int, *, deployments: int = 0, failed: int = 0, nochange: int = 0, rework: int = 0) -> None:
        if not (deployments or failed or nochange or rework):
            return
        for size, cells in zip(BLOCKS, self.levels, strict=True):
            key = day // size
            cell = cells.get(key)
            if cell is None:
                cell = cells[key] = Cell()
            cell.deployments += deployments
            cell.failed += failed
            cell.nochange += nochange
            cell.rework += rework
            if cell.deployments == 0 and cell.changes == 0:
                del cells[key]

    def leads(self, day: int, old: Sequence[float], new: Sequence[float]) -> None:
        if old == new:
            return
        _replace(self._day(day).leads, old, new)
        delta: dict[int, int] = {}  # lead-time bucket -> change of its count
        for value in new:
            key = bucket(value)
            delta[key] = delta.get(key, 0) + 1
        for value in old:
            key = bucket(value)
            delta[key] = delta.get(key, 0) - 1
        moved = [(key, change) for key, change in delta.items() if change]
        if not moved:
            return
        total = len(new) - len(old)
        for size, cells in zip(BLOCKS, self.levels, strict=True):
            cell = cells.get(day // size)
            if cell is None:
                cell = cells[day // size] = Cell()
            cell.changes += total
            counts = cell.leads
            for key, change in moved:
                count = counts.get(key, 0) + change
                if count > 0:
                    counts[key] = count
                else:
                    counts.pop(key, None)

    def recovery(self, day: int, old: float | None, new: float | None) -> None:
        if old != new:
            _replace(self._day(day).recoveries, () if old is None else (old,), () if new is None else (new,))

    def incident(self, day: int, restore: float | None, delta: int) -> None:
        """An incident starting on `day` (restore None: open) comes (delta 1) or goes (-1)."""
        samples = self._day(day)
        if restore is None:
            samples.open_incidents += delta
        elif delta > 0:
            insort(samples.restores, restore)
        else:
            _replace(samples.restores, (restore,), ())

    def attempt(self, day: int, delta: int) -> None:
        self._day(day).failed_attempts += delta

    def _day(self, day: int) -> Day:
        samples = self.days.get(day)
        if samples is None:
            samples = self.days[day] = Day()
        return samples

    def cover(self, first: int, last: int) -> list[Cell]:
        """Cells that exactly cover days [first, last): the largest aligned blocks that fit."""
        out = []
        day = first
        while day < last:
            for level in range(len(BLOCKS) - 1, -1, -1):
                size = BLOCKS[level]
                if day % size == 0 and day + size <= last:
                    cell = self.levels[level].get(day // size)
                    if cell is not None:
                        out.append(cell)
                    day += size
                    break
        return out

    def deploy_days(self, first: int, last: int) -> list[int]:
        """Days in [first, last) with at least one deployment."""
        days = self.levels[0]
        if last - first <= len(days):
            return [day for day in range(first, last) if day in days and days[day].deployments]
        return [day for day, cell in days.items() if first <= day < last and cell.deployments]

    def samples(self, first: int, last: int) -> list[Day]:
        """The samples of the days in [first, last) that have had any."""
        days = self.days
        if last - first <= len(days):
            return [days[day] for day in range(first, last) if day in days]
        return [samples for day, samples in days.items() if first <= day < last]


def _replace(ordered: list[float], old: Sequence[float], new: Sequence[float]) -> None:
    for value in old:
        del ordered[bisect_left(ordered, value)]
    for value in new:
        insort(ordered, value)
