"""Time as integer microseconds since the Unix epoch (UTC): exact arithmetic, cheap comparisons.

Naive datetimes are taken as UTC. Nothing here reads the clock.
"""

from datetime import UTC, datetime, timedelta
from typing import Literal

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US = timedelta(microseconds=1)
US_PER_SECOND = 1_000_000
US_PER_DAY = 86_400 * US_PER_SECOND
INF = 1 << 62  # later than any real time: the end of an open incident

Interval = Literal["day", "week", "month"]


def to_us(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - EPOCH) // US


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def seconds(us: int) -> float:
    return us / US_PER_SECOND


def day_of(us: int) -> int:
    """The UTC day number (days since the epoch) a moment falls on."""
    return us // US_PER_DAY


def buckets(start: datetime, end: datetime, interval: Interval) -> list[tuple[datetime, datetime]]:
    """[start, end) cut at UTC day / ISO week (Monday) / calendar month boundaries."""
    lo = from_us(to_us(start))
    hi = from_us(to_us(end))
    out: list[tuple[datetime, datetime]] = []
    cursor = lo
    while cursor < hi:
        nxt = min(_next_boundary(cursor, interval), hi)
        out.append((cursor, nxt))
        cursor = nxt
    return out


def _next_boundary(moment: datetime, interval: Interval) -> datetime:
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if interval == "day":
        return day + timedelta(days=1)
    if interval == "week":
        return day + timedelta(days=7 - day.weekday())
    if day.month == 12:
        return day.replace(year=day.year + 1, month=1, day=1)
    return day.replace(month=day.month + 1, day=1)
