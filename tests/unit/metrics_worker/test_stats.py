import random
from collections import Counter

import pytest

from metrics_worker import sketch
from metrics_worker.stats import mean, median, p90, quantile, ratio


@pytest.mark.parametrize(
    ("values", "expected_median", "expected_p90"),
    [
        pytest.param([], None, None, id="no-samples"),
        pytest.param([7.0], 7.0, 7.0, id="one"),
        # even: (2 + 4) / 2 = 3; p90 rank (2-1)*0.9 = 0.9 -> 2 + 0.9*(4-2) = 3.8
        pytest.param([2.0, 4.0], 3.0, 3.8, id="two"),
        # odd: middle value 2; p90 rank (3-1)*0.9 = 1.8 -> 2 + 0.8*(10-2) = 8.4
        pytest.param([1.0, 2.0, 10.0], 2.0, 8.4, id="three"),
        # 1..10: median (5 + 6) / 2 = 5.5; p90 rank 9*0.9 = 8.1 -> 9 + 0.1*(10-9) = 9.1
        pytest.param([float(v) for v in range(1, 11)], 5.5, 9.1, id="one-to-ten"),
        # even, four: (3 + 5) / 2 = 4; p90 rank 3*0.9 = 2.7 -> 5 + 0.7*(100-5) = 71.5
        pytest.param([1.0, 3.0, 5.0, 100.0], 4.0, 71.5, id="four-with-outlier"),
    ],
)
def test_median_and_p90_interpolate(
    values: list[float], expected_median: float | None, expected_p90: float | None
) -> None:
    assert median(values) == pytest.approx(expected_median)
    assert p90(values) == pytest.approx(expected_p90)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        pytest.param(0.0, 10.0, id="min"),
        pytest.param(1.0, 40.0, id="max"),
        pytest.param(0.25, 17.5, id="quarter"),  # rank 3*0.25 = 0.75 -> 10 + 0.75*(20-10) = 17.5
    ],
)
def test_quantile_ends_and_quarters(q: float, expected: float) -> None:
    assert quantile([10.0, 20.0, 30.0, 40.0], q) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [pytest.param(1, 4, 0.25, id="quarter"), pytest.param(0, 0, None, id="no-denominator")],
)
def test_ratio(numerator: int, denominator: int, expected: float | None) -> None:
    assert ratio(numerator, denominator) == expected


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("q", [0.5, 0.9])
def test_sketch_quantile_within_half_a_percent(seed: int, q: float) -> None:
    rng = random.Random(seed)
    values = sorted(rng.lognormvariate(9, 2) for _ in range(rng.randint(2, 3000)))
    assert sketch.quantile(sketch.histogram(values), q) == pytest.approx(quantile(values, q), rel=0.005)


def test_sketch_edges() -> None:
    assert sketch.quantile(Counter(), 0.5) is None
    assert sketch.quantile(sketch.histogram([0.0, 0.0, 0.0]), 0.9) == 0.0
    assert sketch.quantile(sketch.histogram([3600.0]), 0.5) == pytest.approx(3600.0, rel=0.005)


def test_mean() -> None:
    assert mean([]) is None
    assert mean([3600.0, 3600.0, 36000.0]) == 14_400.0  # 1h, 1h, 10h -> 4h


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sketch_mean_within_half_a_percent(seed: int) -> None:
    rng = random.Random(seed)
    values = [rng.lognormvariate(9, 2) for _ in range(5_000)]
    estimate = sketch.mean(sketch.histogram(values))
    assert estimate is not None
    assert abs(estimate - mean(values)) <= sketch.ACCURACY * mean(values)  # type: ignore[operator]
    assert sketch.mean(Counter()) is None
