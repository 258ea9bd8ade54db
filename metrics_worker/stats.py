"""Order statistics over exact samples (sorting the pooled window is cheap next to building it)."""

import math
from collections.abc import Sequence


def quantile(ordered: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (rank h = (n - 1) * q); None for no samples.

    q = 0.5 is the usual median: the middle value, or the mean of the two middle values.
    """
    n = len(ordered)
    if n == 0:
        return None
    h = (n - 1) * q
    low = int(h)
    if low + 1 >= n:
        return float(ordered[-1])
    return float(ordered[low] + (h - low) * (ordered[low + 1] - ordered[low]))


def median(ordered: Sequence[float]) -> float | None:
    return quantile(ordered, 0.5)


def p90(ordered: Sequence[float]) -> float | None:
    return quantile(ordered, 0.9)


def mean(values: Sequence[float]) -> float | None:
    """The arithmetic mean; None for no samples (reported beside the median, never instead of it)."""
    return math.fsum(values) / len(values) if values else None


def ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None
