"""Cross-source rules, hand-computed: one deployment reported by several sources counts once (precedence
and a 10-minute tolerance, metrics_worker/crosssource.py), and incidents of one service from several
sources overlap-merge. Times are hours after T0 (factories)."""

import itertools

import pytest

from schemas.events import DeploymentStatus, UnifiedEvent
from tests.unit.metrics_worker.factories import (
    HOUR,
    WEEK,
    ZERO,
    deploy,
    engine_of,
    flatten,
    incident,
    push,
    report_of,
    views_of,
)

MINUTE = 1 / 60


def change_then(*deployments: UnifiedEvent) -> list[UnifiedEvent]:
    """One commit c1 at hour 0, then the given deployments."""
    return flatten(push("P1", ZERO, [("c1", 0)]), *deployments)


@pytest.mark.parametrize(
    ("deployments", "counted"),
    [
        # GitLab and CDEvents report the same deployment 4 minutes apart: GitLab's counts
        pytest.param(
            [deploy("gitlab:7", "c1", 2), deploy("cdevents:abc", "c1", 2 + 4 * MINUTE)],
            ["gitlab:7"],
            id="gitlab-over-cdevents",
        ),
        # CDEvents and the push API 10 minutes apart (the tolerance is inclusive): CDEvents' counts
        pytest.param(
            [deploy("push:b-1", "c1", 2), deploy("cdevents:abc", "c1", 2 + 10 * MINUTE)],
            ["cdevents:abc"],
            id="cdevents-over-push-at-tolerance",
        ),
        # 11 minutes apart: two deployments (a re-run)
        pytest.param(
            [deploy("gitlab:7", "c1", 2), deploy("cdevents:abc", "c1", 2 + 11 * MINUTE)],
            ["gitlab:7", "cdevents:abc"],
            id="beyond-tolerance",
        ),
        # same source twice: re-runs, never merged
        pytest.param(
            [deploy("gitlab:7", "c1", 2), deploy("gitlab:8", "c1", 2 + 1 * MINUTE)],
            ["gitlab:7", "gitlab:8"],
            id="same-source",
        ),
        # different shas: different deployments
        pytest.param(
            [deploy("github:1", "c1", 2), deploy("jenkins:j#1", "c2", 2)],
            ["github:1", "jenkins:j#1"],
            id="different-sha",
        ),
        # no sha: never merged
        pytest.param([deploy("github:1", None, 2), deploy("push:x", None, 2)], ["github:1", "push:x"], id="no-sha"),
        # three sources: only the highest (GitHub > Jenkins > push) counts
        pytest.param(
            [
                deploy("push:x", "c1", 2),
                deploy("jenkins:j#1", "c1", 2 + 2 * MINUTE),
                deploy("github:1", "c1", 2 + 5 * MINUTE),
            ],
            ["github:1"],
            id="three-sources",
        ),
        # ids without a known source namespace never take part
        pytest.param(
            [deploy("d1", "c1", 2), deploy("cdevents:abc", "c1", 2)], ["d1", "cdevents:abc"], id="unknown-namespace"
        ),
    ],
)
def test_same_deployment_from_several_sources_counts_once(deployments: list[UnifiedEvent], counted: list[str]) -> None:
    for order in itertools.permutations(deployments):
        engine = engine_of(change_then(*order))
        assert sorted(views_of(engine)) == sorted(counted), order
        assert report_of(engine).deployment_frequency.deployments == len(counted)


def test_lead_time_counted_once_from_the_winning_report() -> None:
    # c1 committed at 0; GitLab reports the deployment at 2:00, CDEvents at 2:05
    engine = engine_of(change_then(deploy("cdevents:abc", "c1", 2 + 5 * MINUTE), deploy("gitlab:7", "c1", 2)))
    lead = report_of(engine).lead_time
    assert (lead.changes, lead.median_seconds) == (1, 2 * HOUR)  # GitLab's finish: 2 h, not 2 h 5 min


def test_winner_failing_later_lets_the_other_report_count() -> None:
    # GitLab's success is corrected to a failure by a later, better-ranked event: CDEvents' report stands
    events = change_then(
        deploy("gitlab:7", "c1", 2),
        deploy("cdevents:abc", "c1", 2 + 3 * MINUTE),
        deploy("gitlab:7", "c1", 2.01, status=DeploymentStatus.FAILURE),
    )
    for order in itertools.permutations(events[1:]):
        engine = engine_of(events[0], *order)
        assert sorted(views_of(engine)) == ["cdevents:abc"]


def test_incidents_from_several_sources_overlap_merge() -> None:
    # deployment at 1 h; PagerDuty 2-4 h, Opsgenie 3-5 h, the push API 4.5-6 h: one incident 2-6 h;
    # a GitLab incident 7-8 h does not overlap: a second incident
    engine = engine_of(
        change_then(deploy("gitlab:7", "c1", 1)),
        incident("pagerduty:P1", 2, 4),
        incident("opsgenie:a-1", 3, 5),
        incident("push:INC-1", 4.5, 6),
        incident("gitlab-issue:9", 7, 8),
    )
    restore = report_of(engine).time_to_restore
    assert restore.incidents == 2
    assert restore.median_seconds == (4 * HOUR + 1 * HOUR) / 2  # 2->6 h and 7->8 h
    incidents = {i.incident_id: i for i in engine.incidents(None, "production", *WEEK)}
    assert sorted(incidents) == ["gitlab-issue:9", "pagerduty:P1"]  # a merged incident takes its earliest part's id
    assert incidents["pagerduty:P1"].parts == ["pagerduty:P1", "opsgenie:a-1", "push:INC-1"]  # by start
    cfr = report_of(engine).change_failure_rate
    assert (cfr.deployments, cfr.failed_deployments) == (1, 1)  # both incidents blame the only deployment
