"""Outliers and patterns (slow changes, long incidents, repeated failures, rollbacks, failure clusters,
quiet services) and data quality (deployments without known changes, incidents without a service, dead
letters)."""

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence

from metrics_worker.insights.inputs import (
    ALPHA,
    FENCE_IQR,
    MIN_CLUSTER_FAILURES,
    MIN_INCIDENT_SAMPLES,
    MIN_OUTLIER_SAMPLES,
    REPEATED_FAILURES,
    DeploymentFacts,
    InsightInput,
    hours,
)
from metrics_worker.insights.significance import binomial_upper_tail
from metrics_worker.links import api_link, deployment_link, incident_link
from metrics_worker.stats import quantile
from schemas.insights import Finding, Link

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MAX_LISTED = 3  # an outlier finding names at most this many items


def fence(values: list[float]) -> float | None:
    """Q3 + 3 x IQR (quartiles by section 3's interpolation) of sorted values."""
    q1, q3 = quantile(values, 0.25), quantile(values, 0.75)
    return None if q1 is None or q3 is None else q3 + FENCE_IQR * (q3 - q1)


def slow_changes(data: InsightInput) -> list[Finding]:
    timed = [c for c in data.current.changes if c.lead_time_seconds is not None]
    if len(timed) < MIN_OUTLIER_SAMPLES:
        return []
    leads = sorted(c.lead_time_seconds or 0.0 for c in timed)
    limit = fence(leads)
    if limit is None:
        return []
    slow = sorted(
        (c for c in timed if (c.lead_time_seconds or 0.0) > limit),
        key=lambda c: (-(c.lead_time_seconds or 0.0), c.service, c.sha),
    )
    if not slow:
        return []
    median = quantile(leads, 0.5) or 0.0
    links: list[Link] = []
    names = []
    for c in slow[:MAX_LISTED]:
        name = f"{c.repo}#{c.number}" if c.number is not None else f"{c.service}@{c.sha[:12]}"
        names.append(f"{name} ({hours(c.lead_time_seconds or 0.0)})")
        if c.url:
            links.append(Link(rel="pull-request", href=c.url, title=name))
        links.append(deployment_link(c.service, data.environment, c.deployed_at, c.deployment_id))
    links.append(api_link("lead-time", "lead-time", data.scope, data.environment, data.start, data.end))
    return [
        Finding(
            kind="slow_changes",
            category="outlier",
            strength="medium",
            sentence=(
                f"{len(slow)} of {len(timed)} changes took far longer than the rest (above Q3 + 3 x IQR = "
                f"{hours(limit)}; median {hours(median)}): {', '.join(names)}."
            ),
            numbers={
                "changes": len(timed),
                "outliers": len(slow),
                "fence_seconds": limit,
                "median_seconds": median,
                "slowest_seconds": slow[0].lead_time_seconds,
            },
            links=links,
            service=slow[0].service if len({c.service for c in slow}) == 1 else None,
        )
    ]


def long_incidents(data: InsightInput) -> list[Finding]:
    resolved = [i for i in data.current.incidents if i.restore_seconds is not None]
    if len(resolved) < MIN_INCIDENT_SAMPLES:
        return []
    times = sorted(i.restore_seconds or 0.0 for i in resolved)
    limit = fence(times)
    if limit is None:
        return []
    long = sorted(
        (i for i in resolved if (i.restore_seconds or 0.0) > limit),
        key=lambda i: (-(i.restore_seconds or 0.0), i.service, i.incident_id),
    )
    median = quantile(times, 0.5) or 0.0
    return [
        Finding(
            kind="long_incident",
            category="outlier",
            strength="high",
            sentence=(
                f"Incident {i.incident_id} of {i.service} took {hours(i.restore_seconds or 0.0)} to restore, "
                f"beyond Q3 + 3 x IQR = {hours(limit)} of the window's {len(resolved)} incidents "
                f"(median {hours(median)})."
            ),
            numbers={
                "restore_seconds": i.restore_seconds,
                "fence_seconds": limit,
                "median_seconds": median,
                "incidents": len(resolved),
            },
            links=[incident_link(i.service, data.environment, i.started_at, i.incident_id)],
            service=i.service,
        )
        for i in long[:MAX_LISTED]
    ]


def repeated_failures(data: InsightInput) -> list[Finding]:
    by_service: dict[str, list[DeploymentFacts]] = defaultdict(list)
    for d in data.current.deployments:
        if any(cause.kind == "incident" for cause in d.failure_causes):
            by_service[d.service].append(d)
    findings = []
    for service, failed in sorted(by_service.items()):
        if len(failed) < REPEATED_FAILURES:
            continue
        incidents = sorted({c.id for d in failed for c in d.failure_causes if c.kind == "incident"})
        listed = ", ".join(d.deployment_id for d in failed[:MAX_LISTED]) + ("..." if len(failed) > MAX_LISTED else "")
        findings.append(
            Finding(
                kind="repeated_failures",
                category="outlier",
                strength="high" if len(failed) > REPEATED_FAILURES else "medium",
                sentence=(f"{len(failed)} deployments of {service} caused incidents in this window ({listed})."),
                numbers={"failed_deployments": len(failed), "incidents": len(incidents)},
                links=[deployment_link(service, data.environment, d.finished_at, d.deployment_id) for d in failed]
                + [api_link("incidents", "incidents", {"service": service}, data.environment, data.start, data.end)],
                service=service,
            )
        )
    return findings


def rollbacks(data: InsightInput) -> list[Finding]:
    by_service: dict[str, list[DeploymentFacts]] = defaultdict(list)
    for d in data.current.deployments:
        if d.rollback:
            by_service[d.service].append(d)
    return [
        Finding(
            kind="rollbacks",
            category="outlier",
            strength="medium",
            sentence=f"{service} rolled back {len(found)} time{'s' if len(found) > 1 else ''} in this window.",
            numbers={"rollbacks": len(found)},
            links=[deployment_link(service, data.environment, d.finished_at, d.deployment_id) for d in found],
            service=service,
        )
        for service, found in sorted(by_service.items())
    ]


def failure_clusters(data: InsightInput) -> list[Finding]:
    """Failed deployments concentrated on one weekday (or one UTC hour) more than the deployments are:
    the binomial tail P(X >= k) with n = failures and p = that day's share of all deployments, below
    ALPHA / 7 (7 weekdays tested; ALPHA / 24 for hours)."""
    deployments = data.current.deployments
    failed = [d for d in deployments if d.failed]
    if len(failed) < MIN_CLUSTER_FAILURES:
        return []
    findings = []
    slots: list[tuple[str, Callable[[DeploymentFacts], int], Sequence[str], int]] = [
        ("weekday", _weekday, WEEKDAYS, 7),
        ("hour", _hour, [f"{h:02d}:00-{h:02d}:59 UTC" for h in range(24)], 24),
    ]
    for unit, key, names, tests in slots:
        all_counts = Counter(key(d) for d in deployments)
        failed_counts = Counter(key(d) for d in failed)
        best = None
        for slot, k in sorted(failed_counts.items()):
            share = all_counts[slot] / len(deployments)
            p = binomial_upper_tail(k, len(failed), share)
            if p < ALPHA / tests and (best is None or p < best[0]):
                best = (p, slot, k, share)
        if best is None:
            continue
        p, slot, k, share = best
        findings.append(
            Finding(
                kind="failure_cluster",
                category="outlier",
                strength="high" if p < ALPHA / tests / 5 else "medium",
                sentence=(
                    f"Failures cluster on {names[slot]}: {k} of {len(failed)} failed deployments, while "
                    f"{share:.0%} of all deployments finish then (binomial P(X >= {k}) = {p:.3g})."
                ),
                numbers={
                    "unit": unit,
                    "slot": names[slot],
                    "failures_in_slot": k,
                    "failures": len(failed),
                    "deployment_share": share,
                    "p_value": p,
                },
                links=[api_link("deployments", "deployments", data.scope, data.environment, data.start, data.end)],
            )
        )
    return findings


def _weekday(d: DeploymentFacts) -> int:
    return d.finished_at.weekday()


def _hour(d: DeploymentFacts) -> int:
    return d.finished_at.hour


def quiet_services(data: InsightInput) -> list[Finding]:
    """Services of the scope that deployed in the previous window and not at all in this one."""
    now = {d.service for d in data.current.deployments}
    before = Counter(d.service for d in data.previous.deployments)
    return [
        Finding(
            kind="no_deployments",
            category="outlier",
            strength="medium",
            sentence=f"{service} has not deployed in this window ({before[service]} deployments in the previous one).",
            numbers={"deployments_before": before[service], "deployments_after": 0},
            links=[
                api_link(
                    "deployments", "deployments", {"service": service}, data.environment, data.previous_start, data.end
                )
            ],
            service=service,
        )
        for service in sorted(set(data.services) & set(before) - now)
    ]


def data_quality(data: InsightInput) -> list[Finding]:
    findings = []
    deployments = data.current.deployments
    unknown = [d for d in deployments if not d.changes]
    if unknown:
        share = len(unknown) / len(deployments)
        findings.append(
            Finding(
                kind="changes_unknown",
                category="data_quality",
                strength="high" if share >= 0.5 else "medium" if share >= 0.2 else "low",
                sentence=(
                    f"{len(unknown)} of {len(deployments)} deployments ({share:.0%}) shipped no known change "
                    "(sha never pushed, or a redeploy): the lead time leaves them out."
                ),
                numbers={"deployments_without_changes": len(unknown), "deployments": len(deployments), "share": share},
                links=[
                    deployment_link(d.service, data.environment, d.finished_at, d.deployment_id)
                    for d in unknown[:MAX_LISTED]
                ],
            )
        )
    if data.unknown_incidents:
        first = data.unknown_incidents[0]
        findings.append(
            Finding(
                kind="incidents_without_service",
                category="data_quality",
                strength="medium",
                sentence=(
                    f"{len(data.unknown_incidents)} incidents in this window name no service (service "
                    f"'{first.service}'): they fail no deployment and restore times miss them."
                ),
                numbers={"incidents": len(data.unknown_incidents)},
                links=[
                    api_link(
                        "incidents", "incidents", {"service": first.service}, data.environment, data.start, data.end
                    )
                ],
            )
        )
    if data.dead_letters:
        findings.append(
            Finding(
                kind="dead_letters",
                category="data_quality",
                strength="medium",
                sentence=(
                    f"{data.dead_letters} deliveries could not be mapped (dead letters): what they carried is "
                    "missing from every number."
                ),
                numbers={"dead_letters": data.dead_letters},
                links=[Link(rel="dead-letters", href="/api/v1/status")],
            )
        )
    return findings


def patterns(data: InsightInput) -> list[Finding]:
    return [
        *slow_changes(data),
        *long_incidents(data),
        *repeated_failures(data),
        *rollbacks(data),
        *failure_clusters(data),
        *quiet_services(data),
    ]
