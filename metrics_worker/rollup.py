"""Totals of one environment key across all services, per UTC day and per aligned block of 8, 64 and 512
days, kept up to date by the deployment logs.

A report over all services reads the whole days of its window as a handful of blocks (a year is at most
~20 of them, instead of one slice per service) and only the partial days at the window's edges from the
services' logs. Counts are exact; the lead-time distribution is a log-bucket histogram (sketch.py), used
only when the pool is too large to sort.
"""

from collections import Counter
from collections.abc import Iterable
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


class Rollup:
    def __init__(self) -> None:
        self.levels: list[dict[int, Cell]] = [{} for _ in BLOCKS]

    def count(self, day: int, *, deployments: int = 0, failed: int = 0, nochange: int = 0, rework: int = 0) -> None:
        for size, cells in zip(BLOCKS, self.levels, strict=True):
            cell = cells.get(day // size)
            if cell is None:
                cell = cells[day // size] = Cell()
            cell.deployments += deployments
            cell.failed += failed
            cell.nochange += nochange
            cell.rework += rework
            if cell.deployments == 0 and cell.changes == 0:
                del cells[day // size]

    def leads(self, day: int, old: Iterable[float], new: Iterable[float]) -> None:
        old_buckets = Counter(map(bucket, old))
        new_buckets = Counter(map(bucket, new))
        if old_buckets == new_buckets:
            return
        delta = new_buckets.total() - old_buckets.total()
        for size, cells in zip(BLOCKS, self.levels, strict=True):
            cell = cells.get(day // size)
            if cell is None:
                cell = cells[day // size] = Cell()
            cell.changes += delta
            cell.leads.update(new_buckets)
            cell.leads.subtract(old_buckets)
            for key in old_buckets:
                if cell.leads[key] <= 0:
                    del cell.leads[key]

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
