import pytest

from metrics_worker.levels import (
    change_failure_rate_level,
    deployment_frequency_level,
    lead_time_level,
    time_to_restore_level,
)
from schemas.metrics import Level

HOUR = 3600.0
DAY = 86_400.0


@pytest.mark.parametrize(
    ("deployments", "per_day", "expected"),
    [
        pytest.param(0, 0.0, None, id="no-deployments-is-null-not-low"),
        pytest.param(1, None, None, id="empty-window"),
        pytest.param(7, 1.0, "elite", id="once-a-day"),
        pytest.param(6, 6 / 7, "high", id="just-under-daily"),
        pytest.param(1, 1 / 7, "high", id="once-a-week"),
        pytest.param(3, 3 / 28, "medium", id="under-weekly"),
        pytest.param(1, 1 / 30, "medium", id="once-in-30-days"),
        pytest.param(1, 1 / 31, "low", id="once-in-31-days"),
    ],
)
def test_deployment_frequency_level(deployments: int, per_day: float | None, expected: Level | None) -> None:
    assert deployment_frequency_level(deployments, per_day) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        pytest.param(None, None, id="no-changes"),
        pytest.param(0.0, "elite", id="zero"),
        pytest.param(DAY - 1, "elite", id="under-a-day"),
        pytest.param(DAY, "high", id="one-day"),
        pytest.param(7 * DAY - 1, "high", id="under-a-week"),
        pytest.param(7 * DAY, "medium", id="one-week"),
        pytest.param(30 * DAY - 1, "medium", id="under-30-days"),
        pytest.param(30 * DAY, "low", id="30-days"),
    ],
)
def test_lead_time_level(seconds: float | None, expected: Level | None) -> None:
    assert lead_time_level(seconds) == expected


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        pytest.param(None, None, id="no-deployments"),
        pytest.param(0.0, "elite", id="zero"),
        pytest.param(1 / 20, "elite", id="5-percent"),
        pytest.param(0.051, "high", id="over-5-percent"),
        pytest.param(2 / 20, "high", id="10-percent"),
        pytest.param(3 / 20, "medium", id="15-percent"),
        pytest.param(4 / 25, "low", id="16-percent"),
        pytest.param(1.0, "low", id="all-failed"),
    ],
)
def test_change_failure_rate_level(rate: float | None, expected: Level | None) -> None:
    assert change_failure_rate_level(rate) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        pytest.param(None, None, id="no-incidents"),
        pytest.param(HOUR - 1, "elite", id="under-an-hour"),
        pytest.param(HOUR, "high", id="one-hour"),
        pytest.param(DAY - 1, "high", id="under-a-day"),
        pytest.param(DAY, "medium", id="one-day"),
        pytest.param(7 * DAY - 1, "medium", id="under-a-week"),
        pytest.param(7 * DAY, "low", id="one-week"),
    ],
)
def test_time_to_restore_level(seconds: float | None, expected: Level | None) -> None:
    assert time_to_restore_level(seconds) == expected
