"""Shifts (a metric moved between the previous window and this one by more than chance explains) and
their drivers (how much of the move each service, team or stage accounts for)."""

from collections import defaultdict
from collections.abc import Callable, Iterable

from metrics_worker.insights.inputs import (
    ALPHA,
    MIN_DEPLOYMENTS,
    MIN_DRIVER_CHANGE,
    MIN_INCIDENT_SAMPLES,
    MIN_LEAD_SAMPLES,
    MIN_RATE_EVENTS,
    MIN_RATE_POINTS,
    STRONG,
    ChangeFacts,
    InsightInput,
    Period,
    comparable,
    hours,
)
from metrics_worker.insights.significance import mann_whitney_u, rate_test, two_proportions
from metrics_worker.links import api_link
from metrics_worker.stats import median
from schemas.insights import Finding, FindingKind, Link, Number, Strength
from schemas.leadtime import STAGES

_TIE = 1e-9  # contributions closer than this are a tie


def lead_times(period: Period) -> list[float]:
    """The non-negative lead times of the changes of the period's deployments (as the DORA lead time)."""
    return [c.lead_time_seconds for d in period.deployments for c in d.changes if c.lead_time_seconds >= 0]


def _strength(p: float) -> Strength:
    return "high" if p < STRONG else "medium"


def _links(data: InsightInput, *paths: str) -> list[Link]:
    out = []
    for path in paths:
        out.append(api_link(path, path, data.scope, data.environment, data.start, data.end, "this window"))
        out.append(
            api_link(path, path, data.scope, data.environment, data.previous_start, data.start, "previous window")
        )
    return out


def lead_time_shift(data: InsightInput) -> list[Finding]:
    before, after = sorted(lead_times(data.previous)), sorted(lead_times(data.current))
    if len(before) < MIN_LEAD_SAMPLES or len(after) < MIN_LEAD_SAMPLES:
        return []
    test = mann_whitney_u(before, after)
    if test.p_value >= ALPHA:
        return []
    m1, m2 = median(before) or 0.0, median(after) or 0.0  # both have samples
    verb = "rose" if m2 > m1 else "fell"
    ratio = m2 / m1 if m1 > 0 else None
    times = f" {ratio:.1f}x" if ratio is not None and m2 > m1 else ""
    return [
        Finding(
            kind="lead_time_shift",
            category="shift",
            strength=_strength(test.p_value),
            sentence=(
                f"Lead time {verb}{times}: median {hours(m1)} -> {hours(m2)} over {len(before)} and {len(after)} "
                f"changes (Mann-Whitney U = {test.statistic:g}, p = {test.p_value:.3g})."
            ),
            numbers={
                "median_before_seconds": m1,
                "median_after_seconds": m2,
                "ratio": ratio,
                "changes_before": len(before),
                "changes_after": len(after),
                "u": test.statistic,
                "z": test.z,
                "p_value": test.p_value,
            },
            links=_links(data, "deployments"),
        )
    ]


def failure_rate_shift(data: InsightInput) -> list[Finding]:
    n1, n2 = len(data.previous.deployments), len(data.current.deployments)
    if n1 < MIN_DEPLOYMENTS or n2 < MIN_DEPLOYMENTS:
        return []
    x1 = sum(d.failed for d in data.previous.deployments)
    x2 = sum(d.failed for d in data.current.deployments)
    test = two_proportions(x1, n1, x2, n2)
    if test.p_value >= ALPHA:
        return []
    verb = "rose" if x2 / n2 > x1 / n1 else "fell"
    return [
        Finding(
            kind="failure_rate_shift",
            category="shift",
            strength=_strength(test.p_value),
            sentence=(
                f"Change failure rate {verb}: {x1}/{n1} ({x1 / n1:.0%}) -> {x2}/{n2} ({x2 / n2:.0%}) "
                f"(two-proportion z = {test.statistic:.2f}, p = {test.p_value:.3g})."
            ),
            numbers={
                "failed_before": x1,
                "deployments_before": n1,
                "failed_after": x2,
                "deployments_after": n2,
                "rate_before": x1 / n1,
                "rate_after": x2 / n2,
                "z": test.statistic,
                "p_value": test.p_value,
            },
            links=_links(data, "deployments", "incidents"),
        )
    ]


def deployment_rate_shift(data: InsightInput) -> list[Finding]:
    """The deployment rates of the two windows. Where the scope's record of deployments begins inside the
    previous window, that window is compared from there on: its first deployment on record marks the
    start, and the deployments after it are counted over the time after it (a record that begins in
    this window leaves nothing to compare with: "0 -> 52" would say the scope did not deploy when
    MetricSync was not yet told; `shifts` compares no window less than half on record)."""
    k1, k2 = len(data.previous.deployments), len(data.current.deployments)
    t2 = (data.end - data.start).total_seconds()
    partial = data.history_from is not None and data.history_from > data.previous_start
    if data.history_from is not None and partial:
        t1 = (data.start - data.history_from).total_seconds()
        counted = max(0, k1 - 1)
    else:
        t1 = (data.start - data.previous_start).total_seconds()
        counted = k1
    if counted + k2 < MIN_RATE_EVENTS:
        return []
    test = rate_test(counted, t1, k2, t2)
    if test.p_value >= ALPHA:
        return []
    per_day1, per_day2 = counted / (t1 / 86400), k2 / (t2 / 86400)
    verb = "rose" if per_day2 > per_day1 else "fell"
    if partial:
        sentence = (
            f"Deployments {verb}: {per_day1:.2f} -> {per_day2:.2f} a day ({counted} in the {t1 / 86400:.1f} d "
            f"of the previous window after the first deployment on record, {k2} in this window's "
            f"{t2 / 86400:.1f} d; exact conditional binomial test, p = {test.p_value:.3g})."
        )
    else:
        sentence = (
            f"Deployments {verb}: {k1} -> {k2} in windows of equal length "
            f"(exact conditional binomial test, p = {test.p_value:.3g})."
        )
    numbers: dict[str, Number] = {
        "deployments_before": k1,
        "deployments_after": k2,
        "per_day_before": per_day1,
        "per_day_after": per_day2,
        "p_value": test.p_value,
    }
    if partial:
        numbers |= {"counted_before": counted, "observed_seconds_before": t1}
    return [
        Finding(
            kind="deployment_rate_shift",
            category="shift",
            strength=_strength(test.p_value),
            sentence=sentence,
            numbers=numbers,
            links=_links(data, "deployments"),
        )
    ]


def contributions(
    before: Iterable[tuple[str, float]], n_before: int, after: Iterable[tuple[str, float]], n_after: int
) -> dict[str, float]:
    """Share of the change in a mean each group accounts for. The mean over all items is
    sum over groups of (group's sum / all items), so group g adds (S'_g / N' - S_g / N) to the change of
    the mean; its share is that over the change. The shares add up to 1."""
    sums_before: dict[str, float] = defaultdict(float)
    sums_after: dict[str, float] = defaultdict(float)
    for group, value in before:
        sums_before[group] += value
    for group, value in after:
        sums_after[group] += value
    parts = {g: sums_after[g] / n_after - sums_before[g] / n_before for g in {*sums_before, *sums_after}}
    total = sum(parts.values())
    return {g: part / total for g, part in parts.items()} if total else {}


def _top(shares: dict[str, float]) -> list[str]:
    """The groups with the largest share (several if tied), by name."""
    if not shares:
        return []
    best = max(shares.values())
    return sorted(g for g, s in shares.items() if best - s <= _TIE)


def _pr_components(change: ChangeFacts) -> list[tuple[str, float]]:
    """A PR's lead time split into its stages and what no stage covers (unknown stages count as 0)."""
    stages = [change.coding_seconds, change.pickup_seconds, change.review_seconds, change.deploy_seconds]
    known = [(name, value or 0.0) for name, value in zip(STAGES, stages, strict=True)]
    rest = (change.lead_time_seconds or 0.0) - sum(v for _, v in known)
    return [*known, ("unstaged", rest)]


def _groupings(data: InsightInput) -> list[tuple[str, Callable[[str], str]]]:
    """The dimensions a driver is reported by: the service, and the team when the catalog maps teams."""
    out: list[tuple[str, Callable[[str], str]]] = [("service", str)]
    if data.teams:
        out.append(("team", lambda service: data.teams.get(service, "(no team)")))
    return out


def _attribution(
    dimension: str, before: list[tuple[str, float]], n1: int, after: list[tuple[str, float]], n2: int
) -> tuple[str, dict[str, Number], str | None] | None:
    """Who accounts for the change of a mean: the sentence's end ("by service, a accounts for 75% of it"),
    the numbers (top, tied, every group's share) and the service the finding is about (None: a tie, or
    not by service). None when no group moved it."""
    shares = contributions(before, n1, after, n2)
    top = _top(shares)
    if not top:
        return None
    who = " and ".join(top) + (" (tied)" if len(top) > 1 else "")
    what = f"by {dimension}, {who} {'each account' if len(top) > 1 else 'accounts'} for {shares[top[0]]:.0%} of it"
    ordered = sorted(shares.items(), key=lambda kv: (-kv[1], kv[0]))
    numbers: dict[str, Number] = {
        "top": top[0],
        "tied": len(top) > 1,
        **{f"share:{group}": round(value, 6) for group, value in ordered},
    }
    return what, numbers, top[0] if dimension == "service" and len(top) == 1 else None


def lead_time_drivers(data: InsightInput) -> list[Finding]:
    """Which services (teams, stages) account for the change of the mean lead time per change."""
    findings = [
        finding
        for dimension, group in _groupings(data)
        for finding in _driver(data, dimension, _leads_by(data.previous, group), _leads_by(data.current, group))
    ]
    prs_before = [c for c in data.previous.changes if c.kind == "pr" and c.lead_time_seconds is not None]
    prs_after = [c for c in data.current.changes if c.kind == "pr" and c.lead_time_seconds is not None]
    findings += _driver(
        data,
        "stage",
        [part for c in prs_before for part in _pr_components(c)],
        [part for c in prs_after for part in _pr_components(c)],
        n=(len(prs_before), len(prs_after)),
    )
    return findings


def _leads_by(period: Period, group: Callable[[str], str]) -> list[tuple[str, float]]:
    return [
        (group(d.service), c.lead_time_seconds)
        for d in period.deployments
        for c in d.changes
        if c.lead_time_seconds >= 0
    ]


def _driver(
    data: InsightInput,
    dimension: str,
    before: list[tuple[str, float]],
    after: list[tuple[str, float]],
    n: tuple[int, int] | None = None,
    *,
    kind: FindingKind = "lead_time_drivers",
    minimum: int = MIN_LEAD_SAMPLES,
) -> list[Finding]:
    """What accounts for the change of a mean (of lead times, or of restore times with kind
    `restore_time_drivers`)."""
    n1, n2 = n if n is not None else (len(before), len(after))
    if n1 < minimum or n2 < minimum:
        return []
    mean1 = sum(v for _, v in before) / n1
    mean2 = sum(v for _, v in after) / n2
    if mean1 <= 0 or abs(mean2 - mean1) < MIN_DRIVER_CHANGE * mean1:
        return []
    attributed = _attribution(dimension, before, n1, after, n2)
    if attributed is None:
        return []
    what, shares, service = attributed
    verb = "rose" if mean2 > mean1 else "fell"
    if kind == "restore_time_drivers":
        subject, paths = "Mean time to restore", ("incidents",)
    else:
        subject = "PR lead time" if dimension == "stage" else "Mean lead time"
        paths = ("lead-time",) if dimension == "stage" else ("deployments",)
    return [
        Finding(
            kind=kind,
            category="driver",
            strength="medium" if abs(mean2 - mean1) >= mean1 else "low",
            sentence=f"{subject} {verb} {mean2 / mean1:.1f}x (mean {hours(mean1)} -> {hours(mean2)}); {what}.",
            numbers={
                "dimension": dimension,
                "mean_before_seconds": mean1,
                "mean_after_seconds": mean2,
                "samples_before": n1,
                "samples_after": n2,
                **shares,
            },
            links=_links(data, *paths),
            service=service,
        )
    ]


def restore_time_drivers(data: InsightInput) -> list[Finding]:
    """Which services (teams) account for the change of the mean time to restore over the resolved
    incidents that started in each window (the lead-time drivers' decomposition)."""

    def restores_by(period: Period, group: Callable[[str], str]) -> list[tuple[str, float]]:
        return [(group(i.service), i.restore_seconds) for i in period.incidents if i.restore_seconds is not None]

    return [
        finding
        for dimension, group in _groupings(data)
        for finding in _driver(
            data,
            dimension,
            restores_by(data.previous, group),
            restores_by(data.current, group),
            kind="restore_time_drivers",
            minimum=MIN_INCIDENT_SAMPLES,
        )
    ]


def failure_rate_drivers(data: InsightInput) -> list[Finding]:
    """Which services (teams) account for the change of the change failure rate: the rate over N
    deployments is the sum over groups of (the group's failed deployments / N), so group g adds
    F'_g/N' - F_g/N to the change (the same decomposition as the lead-time drivers, over 0/1 values)."""

    def failed_by(period: Period, group: Callable[[str], str]) -> list[tuple[str, float]]:
        return [(group(d.service), 1.0 if d.failed else 0.0) for d in period.deployments]

    return [
        finding
        for dimension, group in _groupings(data)
        for finding in _rate_driver(data, dimension, failed_by(data.previous, group), failed_by(data.current, group))
    ]


def _rate_driver(
    data: InsightInput, dimension: str, before: list[tuple[str, float]], after: list[tuple[str, float]]
) -> list[Finding]:
    n1, n2 = len(before), len(after)
    if n1 < MIN_DEPLOYMENTS or n2 < MIN_DEPLOYMENTS:
        return []
    rate1 = sum(v for _, v in before) / n1
    rate2 = sum(v for _, v in after) / n2
    if abs(rate2 - rate1) < MIN_RATE_POINTS - _TIE:
        return []
    attributed = _attribution(dimension, before, n1, after, n2)
    if attributed is None:
        return []
    what, shares, service = attributed
    verb = "rose" if rate2 > rate1 else "fell"
    points = (rate2 - rate1) * 100
    return [
        Finding(
            kind="failure_rate_drivers",
            category="driver",
            strength="medium" if abs(rate2 - rate1) >= 2 * MIN_RATE_POINTS - _TIE else "low",
            sentence=(
                f"Change failure rate {verb} {rate1:.0%} -> {rate2:.0%} ({points:+.0f} points over {n1} and {n2} "
                f"deployments); {what}."
            ),
            numbers={
                "dimension": dimension,
                "rate_before": rate1,
                "rate_after": rate2,
                "deployments_before": n1,
                "deployments_after": n2,
                **shares,
            },
            links=_links(data, "deployments", "incidents"),
            service=service,
        )
    ]


def shifts(data: InsightInput) -> list[Finding]:
    """The shifts and drivers against the previous window: none when too little of it is on record (it
    begins in this window, or in the last part of the previous one: `comparable`)."""
    if not comparable(data):
        return []
    return [
        *lead_time_shift(data),
        *failure_rate_shift(data),
        *deployment_rate_shift(data),
        *lead_time_drivers(data),
        *failure_rate_drivers(data),
        *restore_time_drivers(data),
    ]
