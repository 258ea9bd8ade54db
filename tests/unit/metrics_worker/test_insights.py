"""Each insight kind with hand-computed data (docs/metrics.md section 15). The inputs are built directly
(deployment, incident and change views), so each case states exactly what the finding sees."""

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from metrics_worker.insights.findings import findings
from metrics_worker.insights.inputs import InsightInput, Period
from schemas.events import UnifiedEvent
from schemas.insights import Finding
from schemas.leadtime import ChangeStages
from schemas.metrics import ChangeView, DeploymentView, FailureCause, IncidentView
from tests.unit.metrics_worker.factories import HOUR, T0

START = T0  # this window: [Mon 2 Mar, Mon 9 Mar); the previous one [Mon 23 Feb, Mon 2 Mar)
END = T0 + timedelta(days=7)
PREV = T0 - timedelta(days=7)


def dep(
    service: str,
    when: datetime,
    leads: list[float] = (),  # type: ignore[assignment]
    *,
    failed_by: list[str] = (),  # type: ignore[assignment]
    failed: bool | None = None,
    rollback: bool = False,
    name: str | None = None,
) -> DeploymentView:
    return DeploymentView(
        service=service,
        deployment_id=name or f"{service}-{when:%m%d%H%M}-{len(leads)}",
        sha="x",
        environment="production",
        production=True,
        finished_at=when,
        rollback=rollback,
        rollback_flag=False,
        changes=[
            ChangeView(sha=f"c{i}", commit_time=when - timedelta(hours=h), lead_time_seconds=h * HOUR)
            for i, h in enumerate(leads)
        ],
        failed=bool(failed_by) if failed is None else failed,
        failure_causes=[FailureCause(kind="incident", id=i) for i in failed_by],
        recovered_at=None,
        recovery_seconds=None,
        rework=False,
    )


def inc(service: str, start: datetime, restore_hours: float | None, incident_id: str) -> IncidentView:
    return IncidentView(
        service=service,
        incident_id=incident_id,
        environment="production",
        started_at=start,
        resolved_at=None if restore_hours is None else start + timedelta(hours=restore_hours),
        parts=[incident_id],
        cause_deployment_ids=[],
        cause_shas=[],
        restore_seconds=None if restore_hours is None else restore_hours * HOUR,
        failed_deployment_id=None,
    )


def pr(service: str, deployed: datetime, stages: tuple[float, float, float, float], number: int) -> ChangeStages:
    coding, pickup, review, deploy = (h * HOUR for h in stages)
    return ChangeStages(
        kind="pr",
        service=service,
        sha=f"m{number}",
        deployment_id=f"d{number}",
        deployed_at=deployed,
        repo=f"acme/{service}",
        number=number,
        url=f"https://github.com/acme/{service}/pull/{number}",
        author="alice",
        first_commit_at=None,
        ready_at=None,
        first_review_at=None,
        merged_at=None,
        coding_seconds=coding,
        pickup_seconds=pickup,
        review_seconds=review,
        deploy_seconds=deploy,
        lead_time_seconds=coding + pickup + review + deploy,
    )


def data(
    current: list[DeploymentView] = (),  # type: ignore[assignment]
    previous: list[DeploymentView] = (),  # type: ignore[assignment]
    *,
    incidents: list[IncidentView] = (),  # type: ignore[assignment]
    previous_incidents: list[IncidentView] = (),  # type: ignore[assignment]
    changes: list[ChangeStages] = (),  # type: ignore[assignment]
    previous_changes: list[ChangeStages] = (),  # type: ignore[assignment]
    services: list[str] = (),  # type: ignore[assignment]
    unknown: list[IncidentView] = (),  # type: ignore[assignment]
    dead_letters: int | None = None,
    history_from: datetime | None = None,
) -> InsightInput:
    return InsightInput(
        scope={},
        environment="production",
        start=START,
        end=END,
        previous_start=PREV,
        current=Period(list(current), list(incidents), list(changes)),
        previous=Period(list(previous), list(previous_incidents), list(previous_changes)),
        services=list(services),
        unknown_incidents=list(unknown),
        dead_letters=dead_letters,
        history_from=history_from,
    )


def of_kind(found: list[Finding], kind: str) -> list[Finding]:
    return [f for f in found if f.kind == kind]


def spread(service: str, start: datetime, leads: list[float]) -> list[DeploymentView]:
    """One deployment per lead time, an hour apart, each with one change."""
    return [dep(service, start + timedelta(hours=i + 1), [lead]) for i, lead in enumerate(leads)]


# --- shifts -----------------------------------------------------------------------------------------


def test_lead_time_shift_significant() -> None:
    # leads 1..8 h before, 9..16 h now: U = 64, p = 0.000939 (test_significance) -> high
    found = of_kind(
        findings(data(spread("a", START, list(range(9, 17))), spread("a", PREV, list(range(1, 9))))), "lead_time_shift"
    )
    (finding,) = found
    assert finding.strength == "high"
    assert finding.numbers["median_before_seconds"] == 4.5 * HOUR
    assert finding.numbers["median_after_seconds"] == 12.5 * HOUR
    assert finding.numbers["u"] == 64.0
    assert finding.numbers["p_value"] == pytest.approx(0.000939, rel=1e-3)
    assert finding.sentence.startswith("Lead time rose 2.8x: median 4.5 h -> 12.5 h over 8 and 8 changes")
    assert finding.links[0].href.startswith("/api/v1/deployments?environment=production&from=2026-03-02T00%3A00%3A00Z")


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(list(range(1, 16, 2)), list(range(2, 17, 2)), id="not-significant"),  # p = 0.713
        pytest.param(list(range(1, 8)), list(range(20, 27)), id="too-few-changes"),  # 7 < 8 per window
    ],
)
def test_no_lead_time_shift(before: list[float], after: list[float]) -> None:
    assert of_kind(findings(data(spread("a", START, after), spread("a", PREV, before))), "lead_time_shift") == []


def _with_failures(start: datetime, total: int, failed: int) -> list[DeploymentView]:
    return [dep("a", start + timedelta(hours=i + 1), [1], failed=i < failed) for i in range(total)]


def test_failure_rate_shift() -> None:
    # 1/20 -> 8/20: z = 2.6505, p = 0.00804 -> high
    (finding,) = of_kind(
        findings(data(_with_failures(START, 20, 8), _with_failures(PREV, 20, 1))), "failure_rate_shift"
    )
    assert (finding.strength, finding.numbers["rate_before"], finding.numbers["rate_after"]) == ("high", 0.05, 0.4)
    assert finding.numbers["p_value"] == pytest.approx(0.00804, rel=1e-3)


def test_failure_rate_shift_not_significant() -> None:
    # 2/20 -> 4/20: p = 0.376
    assert (
        of_kind(findings(data(_with_failures(START, 20, 4), _with_failures(PREV, 20, 2))), "failure_rate_shift") == []
    )


def test_deployment_rate_shift() -> None:
    # 2 -> 10 deployments in equal windows: exact p = 158/4096 = 0.0386 -> medium
    found = findings(data(spread("a", START, [1] * 10), spread("a", PREV, [1] * 2)))
    (finding,) = of_kind(found, "deployment_rate_shift")
    assert (finding.strength, finding.numbers["deployments_before"], finding.numbers["deployments_after"]) == (
        "medium",
        2,
        10,
    )
    assert finding.numbers["p_value"] == pytest.approx(158 / 4096)


def test_deployment_rate_shift_not_significant() -> None:
    # 5 -> 7: p = 0.774
    assert (
        of_kind(findings(data(spread("a", START, [1] * 7), spread("a", PREV, [1] * 5))), "deployment_rate_shift") == []
    )


def test_no_deployment_rate_shift_when_the_record_begins_in_this_window() -> None:
    # 0 -> 10 with the previous window on record: p = 2 x 0.5^10 = 0.00195 -> high. With the first deployment
    # on record in this window, the previous one was never observed: no finding, not "rose 0 -> 10".
    now = spread("a", START, [1] * 10)
    (finding,) = of_kind(findings(data(now)), "deployment_rate_shift")
    assert finding.strength == "high"
    assert finding.numbers["p_value"] == pytest.approx(2 / 1024)
    assert of_kind(findings(data(now, history_from=now[0].finished_at)), "deployment_rate_shift") == []


def test_deployment_rate_shift_counts_from_where_the_record_begins() -> None:
    # The first deployment on record 3.5 d before this window, none after it there; 20 now in 7 d.
    # Under equal rates k2 ~ Binomial(20, 7 / 10.5 = 2/3): p = P(20) + P(X <= 5) = 0.000301 + 0.000167 = 0.000468
    first = START - timedelta(days=3.5)
    before = [dep("a", first)]
    now = [dep("a", START + timedelta(hours=i + 1)) for i in range(20)]
    (finding,) = of_kind(findings(data(now, before, history_from=first)), "deployment_rate_shift")
    assert finding.strength == "high"
    assert finding.numbers["p_value"] == pytest.approx(0.000468, rel=1e-3)
    assert (finding.numbers["deployments_before"], finding.numbers["counted_before"]) == (1, 0)
    assert finding.numbers["observed_seconds_before"] == 3.5 * 86400
    assert finding.numbers["per_day_before"] == 0.0
    assert finding.numbers["per_day_after"] == pytest.approx(20 / 7)
    assert finding.sentence == (
        "Deployments rose: 0.00 -> 2.86 a day (0 in the 3.5 d of the previous window after the first deployment "
        "on record, 20 in this window's 7.0 d; exact conditional binomial test, p = 0.000468)."
    )


def test_less_than_half_of_the_previous_window_on_record_is_no_shift() -> None:
    # Seen on the demo: several services' first deployments minutes apart, 20 min before the window, then 40
    # in 7 d. Counted from the record's start that is 5 in 0.014 d against 40 in 7 d (p = 3.5e-8, "fell"), a
    # rate from the first minutes of the record; 20 min of a 7-day window on record is too little: none.
    first = START - timedelta(minutes=20)
    before = [dep(f"s{i}", first + timedelta(minutes=3 * i)) for i in range(6)]
    now = [dep("s0", START + timedelta(hours=4 * i + 1)) for i in range(40)]
    assert of_kind(findings(data(now, before, history_from=first)), "deployment_rate_shift") == []
    # nor any other comparison: lead times 1..8 h against 9..16 h shift (p = 0.00094) unless the record is short
    later = spread("a", START, list(range(9, 17)))
    assert of_kind(findings(data(later, spread("a", PREV, list(range(1, 9))))), "lead_time_shift")
    short = spread("a", START - timedelta(hours=9), list(range(1, 9)))
    assert [f for f in findings(data(later, short, history_from=short[0].finished_at)) if f.category != "outlier"] == []


def test_a_record_begun_just_before_this_window_is_no_shift() -> None:
    # First deployment 1 h before the window, 10 now: taken as 1 -> 10 over equal windows, p = 0.0117
    # (medium); counted from where the record begins, 0 deployments in 1 h against 10 in 7 d: p = 1, none.
    first = START - timedelta(hours=1)
    now = spread("a", START, [1] * 10)
    (naive,) = of_kind(findings(data(now, [dep("a", first)])), "deployment_rate_shift")
    assert naive.numbers["p_value"] == pytest.approx(24 / 2048)
    assert of_kind(findings(data(now, [dep("a", first)], history_from=first)), "deployment_rate_shift") == []


# --- drivers ----------------------------------------------------------------------------------------


def test_driver_by_service() -> None:
    # before: a and b 4 changes of 1 h each (mean 1 h); now a 4 x 3 h, b 4 x 1 h (mean 2 h).
    # a adds 12/8 - 4/8 = 1 h of the 1 h rise: 100 %; b 4/8 - 4/8 = 0
    now = spread("a", START, [3] * 4) + spread("b", START, [1] * 4)
    before = spread("a", PREV, [1] * 4) + spread("b", PREV, [1] * 4)
    (finding,) = [
        f for f in of_kind(findings(data(now, before)), "lead_time_drivers") if f.numbers["dimension"] == "service"
    ]
    assert finding.numbers["top"] == "a"
    assert finding.numbers["tied"] is False
    assert (finding.numbers["share:a"], finding.numbers["share:b"]) == (1.0, 0.0)
    assert finding.sentence == "Mean lead time rose 2.0x (mean 1.0 h -> 2.0 h); by service, a accounts for 100% of it."
    assert finding.service == "a"


def test_driver_tie() -> None:
    # a and b both go from 4 x 1 h to 4 x 2 h: each adds 8/8 - 4/8 = 0.5 h of the 1 h rise: 50 % each, tied
    now = spread("a", START, [2] * 4) + spread("b", START, [2] * 4)
    before = spread("a", PREV, [1] * 4) + spread("b", PREV, [1] * 4)
    (finding,) = [
        f for f in of_kind(findings(data(now, before)), "lead_time_drivers") if f.numbers["dimension"] == "service"
    ]
    assert (finding.numbers["top"], finding.numbers["tied"]) == ("a", True)
    assert finding.sentence.endswith("by service, a and b (tied) each account for 50% of it.")
    assert finding.service is None


def runs(service: str, start: datetime, total: int, failed: int) -> list[DeploymentView]:
    """`total` deployments of `service` an hour apart, the first `failed` of them failed."""
    return [
        dep(service, start + timedelta(hours=i + 1), [1], failed=i < failed, name=f"{service}-{i}")
        for i in range(total)
    ]


def test_failure_rate_driver_by_service() -> None:
    # before: a 1 of 10 failed, b 1 of 10: 2/20 = 10 %; now a 5 of 10, b 1 of 10: 6/20 = 30 % (+20 points).
    # a adds 5/20 - 1/20 = 0.20 of the 0.20 rise: 100 %; b 1/20 - 1/20 = 0. Medium: the rate moved >= 10 points.
    before = runs("a", PREV, 10, 1) + runs("b", PREV, 10, 1)
    now = runs("a", START, 10, 5) + runs("b", START, 10, 1)
    (finding,) = of_kind(findings(data(now, before)), "failure_rate_drivers")
    assert finding.sentence == (
        "Change failure rate rose 10% -> 30% (+20 points over 20 and 20 deployments); by service, a accounts for "
        "100% of it."
    )
    assert (finding.strength, finding.service, finding.category) == ("medium", "a", "driver")
    assert (finding.numbers["share:a"], finding.numbers["share:b"]) == (1.0, 0.0)
    assert finding.numbers["rate_before"] == pytest.approx(0.1)
    assert finding.numbers["rate_after"] == pytest.approx(0.3)
    assert [link.rel for link in finding.links] == ["deployments", "deployments", "incidents", "incidents"]


def test_failure_rate_driver_by_team_and_a_group_pulling_the_other_way() -> None:
    # before: a 4/10, b 0/10, c 0/10 = 4/30; now a 0/10, b 3/10, c 3/10 = 6/30 (+6.7 points: low).
    # a adds 0 - 4/30, b 3/30, c 3/30; the change is 2/30: a -200 %, b 150 %, c 150 %.
    # By team (a: pay; b, c: web): pay -200 %, web 300 %.
    before = runs("a", PREV, 10, 4) + runs("b", PREV, 10, 0) + runs("c", PREV, 10, 0)
    now = runs("a", START, 10, 0) + runs("b", START, 10, 3) + runs("c", START, 10, 3)
    inputs = replace(data(now, before), teams={"a": "pay", "b": "web", "c": "web"})
    found = of_kind(findings(inputs), "failure_rate_drivers")
    by = {f.numbers["dimension"]: f for f in found}
    assert by["service"].sentence.endswith("by service, b and c (tied) each account for 150% of it.")
    assert by["service"].numbers["share:a"] == pytest.approx(-2.0)
    assert (by["service"].strength, by["service"].service) == ("low", None)
    assert by["team"].sentence == (
        "Change failure rate rose 13% -> 20% (+7 points over 30 and 30 deployments); by team, web accounts for "
        "300% of it."
    )
    assert by["team"].numbers["share:pay"] == pytest.approx(-2.0)


@pytest.mark.parametrize(
    ("before", "now"),
    [
        pytest.param((25, 1), (25, 2), id="4-points-is-below-5"),
        pytest.param((9, 0), (10, 5), id="9-deployments-before"),
    ],
)
def test_no_failure_rate_driver(before: tuple[int, int], now: tuple[int, int]) -> None:
    found = findings(data(runs("a", START, *now), runs("a", PREV, *before)))
    assert of_kind(found, "failure_rate_drivers") == []


def test_restore_time_driver_by_service() -> None:
    # before: a 2 x 1 h, b 2 x 1 h (mean 1 h); now a 2 x 5 h, b 2 x 1 h (mean 3 h). a adds 10/4 - 2/4 = 2 h
    # of the 2 h rise: 100 %; b 0. Medium: the mean at least doubled. An unresolved incident is not a sample.
    def incidents(start: datetime, hours_a: float) -> list[IncidentView]:
        return [
            inc("a", start + timedelta(hours=1), hours_a, f"a{start:%d}1"),
            inc("a", start + timedelta(hours=9), hours_a, f"a{start:%d}2"),
            inc("b", start + timedelta(hours=1), 1, f"b{start:%d}1"),
            inc("b", start + timedelta(hours=9), 1, f"b{start:%d}2"),
        ]

    now = [*incidents(START, 5), inc("b", START + timedelta(hours=20), None, "open")]
    found = of_kind(findings(data(incidents=now, previous_incidents=incidents(PREV, 1))), "restore_time_drivers")
    (finding,) = found
    assert (
        finding.sentence
        == "Mean time to restore rose 3.0x (mean 1.0 h -> 3.0 h); by service, a accounts for 100% of it."
    )
    assert (finding.strength, finding.service) == ("medium", "a")
    assert (finding.numbers["share:a"], finding.numbers["share:b"]) == (1.0, 0.0)
    assert (finding.numbers["samples_before"], finding.numbers["samples_after"]) == (4, 4)
    assert [link.rel for link in finding.links] == ["incidents", "incidents"]
    # 3 resolved incidents before: no finding (at least 4 in each window)
    assert (
        of_kind(findings(data(incidents=now, previous_incidents=incidents(PREV, 1)[:3])), "restore_time_drivers") == []
    )


def test_driver_by_stage() -> None:
    # 8 PRs before with stages (1, 1, 1, 1) h: mean lead 4 h; 8 now with review 5 h: mean 8 h.
    # review adds 5 - 1 = 4 h of the 4 h rise: 100 %; the other stages 0
    before = [pr("a", PREV + timedelta(hours=i + 1), (1, 1, 1, 1), i) for i in range(8)]
    now = [pr("a", START + timedelta(hours=i + 1), (1, 1, 5, 1), 10 + i) for i in range(8)]
    found = of_kind(findings(data(changes=now, previous_changes=before)), "lead_time_drivers")
    (finding,) = [f for f in found if f.numbers["dimension"] == "stage"]
    assert (finding.numbers["top"], finding.numbers["share:review"], finding.numbers["share:coding"]) == (
        "review",
        1.0,
        0.0,
    )
    assert finding.sentence == "PR lead time rose 2.0x (mean 4.0 h -> 8.0 h); by stage, review accounts for 100% of it."


def test_no_driver_for_a_small_change() -> None:
    # mean 1 h -> 1.05 h: below the 10 % threshold
    now = spread("a", START, [1.05] * 8)
    before = spread("a", PREV, [1] * 8)
    assert of_kind(findings(data(now, before)), "lead_time_drivers") == []


# --- outliers and patterns ---------------------------------------------------------------------------


def test_slow_changes() -> None:
    # leads 1 h x 7 and 20 h: Q1 = Q3 = 1 h, IQR 0, fence 1 h: the 20 h change is the outlier
    changes = [pr("a", START + timedelta(hours=i + 1), (0.25, 0.25, 0.25, 0.25), i) for i in range(7)]
    changes.append(pr("a", START + timedelta(hours=30), (17, 1, 1, 1), 99))
    (finding,) = of_kind(findings(data(changes=changes)), "slow_changes")
    assert (finding.numbers["outliers"], finding.numbers["fence_seconds"], finding.numbers["slowest_seconds"]) == (
        1,
        1 * HOUR,
        20 * HOUR,
    )
    assert finding.links[0].href == "https://github.com/acme/a/pull/99"
    assert "acme/a#99 (20.0 h)" in finding.sentence


def test_long_incident() -> None:
    # restores 1, 1, 1, 1, 20 h: Q1 = Q3 = 1 h, fence 1 h: the 20 h one
    incidents = [inc("a", START + timedelta(hours=i * 30), h, f"i{i}") for i, h in enumerate([1, 1, 1, 1, 20])]
    (finding,) = of_kind(findings(data(incidents=incidents)), "long_incident")
    assert (finding.service, finding.numbers["restore_seconds"], finding.numbers["median_seconds"]) == (
        "a",
        20 * HOUR,
        HOUR,
    )
    assert "i4" in finding.sentence


def test_repeated_failures_and_rollbacks() -> None:
    current = [
        dep("a", START + timedelta(hours=1), [1], failed_by=["i1"], name="a1"),
        dep("a", START + timedelta(hours=5), [1], failed_by=["i2"], name="a2"),
        dep("b", START + timedelta(hours=6), [1], failed_by=["i3"], name="b1"),  # once: not repeated
        dep("b", START + timedelta(hours=7), [], rollback=True, name="b2"),
    ]
    found = findings(data(current))
    (repeated,) = of_kind(found, "repeated_failures")
    assert (repeated.service, repeated.numbers["failed_deployments"], repeated.strength) == ("a", 2, "medium")
    assert repeated.sentence == "2 deployments of a caused incidents in this window (a1, a2)."
    (rollback,) = of_kind(found, "rollbacks")
    assert (rollback.service, rollback.numbers["rollbacks"]) == ("b", 1)


def test_failure_cluster_on_a_weekday() -> None:
    # 20 deployments at 14:00, 5 of them on Friday 6 Mar, which are the 5 failures: share 0.25,
    # P(X >= 5) = 0.25^5 = 0.000977 < 0.05 / 7 -> high (< 0.05 / 7 / 5 = 0.00143); the hour (all 14:00) is no cluster
    friday = START + timedelta(days=4, hours=14)
    current = [dep("a", friday + timedelta(minutes=i), [1], failed=True) for i in range(5)]
    others = [START + timedelta(days=d, hours=14, minutes=i) for d in (0, 1, 2, 3, 5) for i in range(3)]
    current += [dep("a", when, [1]) for when in others]
    (finding,) = of_kind(findings(data(current)), "failure_cluster")
    assert (finding.numbers["slot"], finding.numbers["failures_in_slot"], finding.numbers["deployment_share"]) == (
        "Friday",
        5,
        0.25,
    )
    assert finding.numbers["p_value"] == pytest.approx(0.25**5)
    assert finding.strength == "high"


def test_no_failure_cluster_when_failures_follow_the_deployments() -> None:
    # 10 deployments, 5 on Friday, the 5 failures on Friday: P = 0.5^5 = 0.031 > 0.05 / 7
    friday = START + timedelta(days=4, hours=14)
    current = [dep("a", friday + timedelta(minutes=i), [1], failed=True) for i in range(5)]
    current += [dep("a", START + timedelta(days=1, hours=14, minutes=i), [1]) for i in range(5)]
    assert of_kind(findings(data(current)), "failure_cluster") == []


def test_service_with_no_deployment() -> None:
    previous = spread("b", PREV, [1, 1, 1]) + spread("a", PREV, [1])
    (finding,) = of_kind(findings(data(spread("a", START, [1]), previous, services=["a", "b"])), "no_deployments")
    assert (finding.service, finding.numbers["deployments_before"]) == ("b", 3)


# --- data quality -----------------------------------------------------------------------------------


def test_data_quality() -> None:
    current = [
        *spread("a", START, [1, 1]),
        dep("a", START + timedelta(hours=9), []),
        dep("a", START + timedelta(hours=10), []),
    ]
    unknown = [inc("unknown", START, 1, "u1"), inc("unknown", START + timedelta(hours=2), None, "u2")]
    found = findings(data(current, unknown=unknown, dead_letters=3))
    (changes,) = of_kind(found, "changes_unknown")
    assert (changes.numbers["deployments_without_changes"], changes.numbers["share"], changes.strength) == (
        2,
        0.5,
        "high",
    )
    (without,) = of_kind(found, "incidents_without_service")
    assert without.numbers["incidents"] == 2
    (dead,) = of_kind(found, "dead_letters")
    assert dead.numbers["dead_letters"] == 3
    assert found[0].kind == "changes_unknown"  # high first; data quality before other kinds of equal strength


def test_nothing_to_say() -> None:
    assert findings(data()) == []


def test_deterministic_order() -> None:
    now = spread("a", START, [3] * 4) + spread("b", START, [1] * 4)
    before = spread("a", PREV, [1] * 4) + spread("b", PREV, [1] * 4)
    assert findings(data(now, before)) == findings(data(list(reversed(now)), list(reversed(before))))


def test_engine_gathers_the_inputs() -> None:
    """Through the engine: the previous window is the same length just before; a service that stopped
    deploying and a deployment of an unknown sha are found from applied events."""
    from tests.unit.metrics_worker.factories import deploy, engine_of, push

    events: list[UnifiedEvent] = [
        *push("p1", "0" * 40, [("c1", -100)]),
        deploy("d1", "c1", -99, service="svc"),  # previous window (T0 - 7 d .. T0): svc deployed
        deploy("d2", "zz", 10, service="other"),  # this window: other deployed a sha never pushed
    ]
    engine = engine_of(events)
    found = engine.insights(None, "production", START, END, scope={}, unknown_service="unknown", dead_letters=0)
    assert [(f.kind, f.service) for f in found] == [("changes_unknown", None), ("no_deployments", "svc")]


def test_engine_knows_where_the_record_of_deployments_begins() -> None:
    """A service whose first deployments are in this window: no "Deployments rose 0 -> 12"."""
    from tests.unit.metrics_worker.factories import deploy, engine_of

    engine = engine_of([deploy(f"d{i}", None, 2 + 3 * i, service="new") for i in range(12)])
    found = engine.insights(None, "production", START, END, scope={})
    assert of_kind(found, "deployment_rate_shift") == []
    engine = engine_of(
        [deploy("d-old", None, -24 * 7 - 1, service="new")]  # one deployment before the previous window
        + [deploy(f"d{i}", None, 2 + 3 * i, service="new") for i in range(12)]
    )
    (finding,) = of_kind(engine.insights(None, "production", START, END, scope={}), "deployment_rate_shift")
    assert (finding.numbers["deployments_before"], finding.numbers["deployments_after"]) == (0, 12)
