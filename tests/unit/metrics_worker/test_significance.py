"""The statistical tests of the insights against values computed by hand (docs/metrics.md section 15)."""

import pytest

from metrics_worker.insights.significance import (
    binomial_pmf,
    binomial_upper_tail,
    mann_whitney_u,
    ranks,
    rate_test,
    two_proportions,
)


def test_ranks_share_ties() -> None:
    assert ranks([2, 1, 2, 3, 1]) == [3.5, 1.5, 3.5, 5.0, 1.5]


@pytest.mark.parametrize(
    ("before", "after", "u", "z", "p"),
    [
        # complete separation: R2 = 9 + ... + 16 = 100, U = 100 - 8 x 9 / 2 = 64; mean 32,
        # variance 8 x 8 / 12 x 17 = 90.667; z = (64 - 32 - 0.5) / 9.5219 = 3.3082; p = erfc(z / sqrt 2)
        pytest.param(list(range(1, 9)), list(range(9, 17)), 64.0, 3.3082, 0.000939, id="significant"),
        # interleaved: R2 = 2 + 4 + ... + 16 = 72, U = 36; z = (36 - 32 - 0.5) / 9.5219 = 0.3676
        pytest.param(list(range(1, 16, 2)), list(range(2, 17, 2)), 36.0, 0.3676, 0.7132, id="not-significant"),
        # ties: ranks 1.5 1.5 4 4 4 7 7 7; R2 = 4 + 21 = 25, U = 15; mean 8;
        # variance 16 / 12 x (9 - (6 + 24 + 24) / 56) = 10.714; z = (15 - 8 - 0.5) / 3.2733 = 1.9858
        pytest.param([1, 1, 2, 2], [2, 3, 3, 3], 15.0, 1.9858, 0.04706, id="ties"),
    ],
)
def test_mann_whitney_u(before: list[float], after: list[float], u: float, z: float, p: float) -> None:
    result = mann_whitney_u(before, after)
    assert result.statistic == u
    assert result.z == pytest.approx(z, abs=1e-4)
    assert result.p_value == pytest.approx(p, rel=1e-3)


def test_mann_whitney_u_all_equal_is_no_evidence() -> None:
    assert mann_whitney_u([1, 1], [1, 1]).p_value == 1.0


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2", "z", "p"),
    [
        # pooled 9/40 = 0.225; se = sqrt(0.225 x 0.775 x (1/20 + 1/20)) = 0.13205; z = 0.35 / 0.13205
        pytest.param(1, 20, 8, 20, 2.6505, 0.00804, id="significant"),
        # pooled 0.15; se = sqrt(0.15 x 0.85 x 0.1) = 0.11292; z = 0.1 / 0.11292
        pytest.param(2, 20, 4, 20, 0.8856, 0.3758, id="not-significant"),
    ],
)
def test_two_proportions(x1: int, n1: int, x2: int, n2: int, z: float, p: float) -> None:
    result = two_proportions(x1, n1, x2, n2)
    assert result.z == pytest.approx(z, abs=1e-4)
    assert result.p_value == pytest.approx(p, rel=1e-3)


def test_two_proportions_without_variance() -> None:
    assert two_proportions(0, 10, 0, 10).p_value == 1.0


@pytest.mark.parametrize(
    ("k1", "k2", "p"),
    [
        # n = 12, p = 1/2: P(10) = 66/4096; as likely or less: 0, 1, 2, 10, 11, 12 -> (1+12+66+66+12+1)/4096
        pytest.param(2, 10, 158 / 4096, id="significant"),
        # P(7) = 792/4096; every outcome but 6 (924/4096) is as likely or less -> 1 - 924/4096
        pytest.param(5, 7, 1 - 924 / 4096, id="not-significant"),
    ],
)
def test_rate_test_equal_windows(k1: int, k2: int, p: float) -> None:
    assert rate_test(k1, 7.0, k2, 7.0).p_value == pytest.approx(p, rel=1e-9)


def test_rate_test_unequal_exposure() -> None:
    # 1 event in 1 day, 2 in 2 days: the same rate; p = 2/3 under H0; P(X=2) = 4/9 is the likeliest -> 1
    assert rate_test(1, 1.0, 2, 2.0).p_value == pytest.approx(1.0)


def test_binomial_upper_tail() -> None:
    # P(X >= 4), n = 5, p = 0.2: 5 x 0.2^4 x 0.8 + 0.2^5 = 0.0064 + 0.00032
    assert binomial_upper_tail(4, 5, 0.2) == pytest.approx(0.00672)


def test_rate_test_with_thousands_of_deployments() -> None:
    # C(4000, 2000) is ~1e1202, beyond a float: the probabilities are computed in log space
    assert rate_test(2000, 7.0, 2000, 7.0).p_value == pytest.approx(1.0)
    assert rate_test(1000, 7.0, 3000, 7.0).p_value < 1e-100
    assert binomial_pmf(2000, 4000, 0.5) == pytest.approx(0.012614, rel=1e-4)
