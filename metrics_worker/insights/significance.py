"""The statistical tests behind the shift findings, small and exact enough to check by hand.

- Mann-Whitney U (two-sided), normal approximation with tie correction and continuity correction.
- Two-proportion z-test (two-sided, pooled proportion).
- Rate test for two counts over two exposures: the exact conditional binomial test (given the total, the
  count of the second window is binomial with p = t2 / (t1 + t2)); two-sided p = the sum of the
  probabilities of every outcome no more likely than the observed one.
- The binomial upper tail P(X >= k), for clustering.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from math import erfc, exp, lgamma, log, sqrt

_RELATIVE = 1 + 1e-7  # outcomes this close to the observed probability count as equally likely


@dataclass(frozen=True, slots=True)
class TestResult:
    statistic: float  # U of the second sample, z, or the second count
    z: float | None
    p_value: float


def normal_two_sided(z: float) -> float:
    """P(|Z| >= |z|) for a standard normal Z."""
    return erfc(abs(z) / sqrt(2))


def ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, tied values sharing the mean of their ranks."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def mann_whitney_u(before: Sequence[float], after: Sequence[float]) -> TestResult:
    """U of `after` (how often an `after` value beats a `before` value, ties half), z and two-sided p."""
    n1, n2 = len(before), len(after)
    all_ranks = ranks([*before, *after])
    r2 = sum(all_ranks[n1:])
    u2 = r2 - n2 * (n2 + 1) / 2
    n = n1 + n2
    mean = n1 * n2 / 2
    counts: dict[float, int] = {}
    for value in [*before, *after]:
        counts[value] = counts.get(value, 0) + 1
    ties = sum(t**3 - t for t in counts.values())
    variance = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))) if n > 1 else 0.0
    if variance <= 0:
        return TestResult(u2, None, 1.0)
    diff = u2 - mean
    corrected = diff - 0.5 if diff > 0 else diff + 0.5 if diff < 0 else 0.0
    z = corrected / sqrt(variance)
    return TestResult(u2, z, normal_two_sided(z))


def two_proportions(x1: int, n1: int, x2: int, n2: int) -> TestResult:
    """z = (x2/n2 - x1/n1) / sqrt(p (1 - p) (1/n1 + 1/n2)), p = (x1 + x2) / (n1 + n2)."""
    pooled = (x1 + x2) / (n1 + n2)
    se = sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return TestResult(0.0, None, 1.0)
    z = (x2 / n2 - x1 / n1) / se
    return TestResult(z, z, normal_two_sided(z))


def binomial_pmf(k: int, n: int, p: float) -> float:
    """C(n, k) p^k (1 - p)^(n - k), in log space: C(n, k) of thousands of deployments is beyond a float."""
    if p <= 0.0 or p >= 1.0:
        return 1.0 if k == (n if p >= 1.0 else 0) else 0.0
    log_comb = lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1)
    return exp(log_comb + k * log(p) + (n - k) * log(1 - p))


def rate_test(k1: int, t1: float, k2: int, t2: float) -> TestResult:
    """Exact conditional test of equal rates: k2 ~ Binomial(k1 + k2, t2 / (t1 + t2)) under equal rates."""
    n = k1 + k2
    if n == 0:
        return TestResult(0.0, None, 1.0)
    p = t2 / (t1 + t2)
    observed = binomial_pmf(k2, n, p)
    total = sum(q for k in range(n + 1) if (q := binomial_pmf(k, n, p)) <= observed * _RELATIVE)
    return TestResult(float(k2), None, min(1.0, total))


def binomial_upper_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    return min(1.0, sum(binomial_pmf(j, n, p) for j in range(k, n + 1)))
