"""DORA 2023 benchmark levels, gap-free (every value falls in exactly one band). No data: None."""

from schemas.metrics import Level

HOUR = 3600.0
DAY = 86_400.0


def deployment_frequency_level(deployments: int, per_day: float | None) -> Level | None:
    """elite >= 1/day, high >= 1/week, medium >= 1/30 days, else low; no deployments: None."""
    if deployments == 0 or per_day is None:
        return None
    if per_day >= 1.0:
        return "elite"
    if per_day >= 1.0 / 7.0:
        return "high"
    if per_day >= 1.0 / 30.0:
        return "medium"
    return "low"


def lead_time_level(median_seconds: float | None) -> Level | None:
    """elite < 1 day, high < 7 days, medium < 30 days, else low."""
    return _below(median_seconds, (DAY, 7 * DAY, 30 * DAY))


def time_to_restore_level(median_seconds: float | None) -> Level | None:
    """elite < 1 hour, high < 1 day, medium < 7 days, else low."""
    return _below(median_seconds, (HOUR, DAY, 7 * DAY))


def change_failure_rate_level(rate: float | None) -> Level | None:
    """elite <= 5 %, high <= 10 %, medium <= 15 %, else low."""
    if rate is None:
        return None
    if rate <= 0.05:
        return "elite"
    if rate <= 0.10:
        return "high"
    if rate <= 0.15:
        return "medium"
    return "low"


def _below(value: float | None, limits: tuple[float, float, float]) -> Level | None:
    if value is None:
        return None
    elite, high, medium = limits
    if value < elite:
        return "elite"
    if value < high:
        return "high"
    if value < medium:
        return "medium"
    return "low"
