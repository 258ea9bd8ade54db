"""A log-bucket histogram with 0.5 % relative accuracy (DDSketch's mapping), for quantiles over pools too
large to sort within a read's budget. Bucket k holds (gamma^(k-1), gamma^k] and stands for the value with
at most ACCURACY relative error to everything in it."""

import math
from collections import Counter
from collections.abc import Iterable

ACCURACY = 0.005
_GAMMA = (1 + ACCURACY) / (1 - ACCURACY)
_LOG_GAMMA = math.log(_GAMMA)
_SMALLEST = 1e-3  # values up to a millisecond count as zero
_ZERO_BUCKET = -(1 << 30)


def bucket(value: float) -> int:
    if value <= _SMALLEST:
        return _ZERO_BUCKET
    return math.ceil(math.log(value) / _LOG_GAMMA)


def representative(key: int) -> float:
    if key == _ZERO_BUCKET:
        return 0.0
    return 2 * _GAMMA**key / (_GAMMA + 1)


def histogram(values: Iterable[float]) -> Counter[int]:
    return Counter(map(bucket, values))


def quantile(counts: Counter[int], q: float) -> float | None:
    """The q-quantile with the same interpolation as stats.quantile, on bucket representatives."""
    n = counts.total()
    if n == 0:
        return None
    h = (n - 1) * q
    low = int(h)
    wanted = [low, min(low + 1, n - 1)]
    found: list[float] = []
    seen = 0
    for key in sorted(counts):
        seen += counts[key]
        while wanted and wanted[0] < seen:
            found.append(representative(key))
            wanted.pop(0)
        if not wanted:
            break
    return found[0] + (h - low) * (found[1] - found[0])


def mean(counts: Counter[int]) -> float | None:
    """The mean of the bucket representatives: within ACCURACY of the exact mean, like the quantiles."""
    n = counts.total()
    if n == 0:
        return None
    return math.fsum(representative(key) * count for key, count in counts.items()) / n
