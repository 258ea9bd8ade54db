"""Failed deployments: incidents (explicit cause, else the attribution heuristic), rollbacks, recovery,
rework, failed attempts. Deployments here need no pushes: failures depend on shas and times only."""

import pytest

from schemas.events import RANK_FINALIZED, DeploymentStatus, UnifiedEvent
from tests.unit.metrics_worker.factories import (
    HOUR,
    ZERO,
    deploy,
    engine_of,
    flatten,
    incident,
    opened,
    push,
    report_of,
    views_of,
)

FAILURE_CASES = [
    pytest.param(
        flatten(deploy("D1", "a", 0), incident("I", 10, 11)),
        72,
        {"D1": ["incident:I"]},
        id="heuristic-within-window",
    ),
    pytest.param(
        flatten(deploy("D1", "a", 0), incident("I", 72, 73)),
        72,
        {"D1": ["incident:I"]},
        id="heuristic-at-window-edge",
    ),
    pytest.param(
        flatten(deploy("D1", "a", 0), incident("I", 73, 74)),
        72,
        {"D1": []},
        id="heuristic-outside-window",
    ),
    pytest.param(
        flatten(deploy("D1", "a", 0), incident("I", 100, 101)),
        None,
        {"D1": ["incident:I"]},
        id="unlimited-window",
    ),
    pytest.param(
        flatten(deploy("D1", "a", 0), deploy("D2", "b", 5), incident("I", 6, 7)),
        72,
        {"D1": [], "D2": ["incident:I"]},
        id="heuristic-blames-the-last-one-before",
    ),
    pytest.param(
        flatten(deploy("D1", "a", 0), deploy("D2", "b", 5), incident("I", 5, 7)),
        72,
        {"D1": [], "D2": []},
        id="starting-as-the-next-finishes-blames-neither",
    ),
    pytest.param(
        flatten(incident("I", -2, -1), deploy("D1", "a", 0)),
        72,
        {"D1": []},
        id="incident-before-any-deployment",
    ),
    pytest.param(
        flatten(deploy("D1", "a", 0), deploy("D2", "b", 5), incident("I", 6, 7, cause_deployment="D1")),
        72,
        {"D1": ["incident:I"], "D2": []},
        id="explicit-deployment-id-beats-heuristic",
    ),
    pytest.param(
        flatten(
            push("P1", ZERO, [("s1", -3), ("s2", -2)]),
            deploy("D1", "s2", 0),
            push("P2", "s2", [("s3", 4)]),
            deploy("D2", "s3", 5),
            incident("I", 6, 7, cause_sha="s1"),
        ),
        72,
        {"D1": ["incident:I"], "D2": []},
        id="explicit-commit-blames-the-deployment-that-first-shipped-it",
    ),
    pytest.param(
        flatten(deploy("D1", "a", 0), deploy("D2", "b", 5), incident("I", 6, 7, cause_deployment="ghost")),
        72,
        {"D1": [], "D2": ["incident:I"]},
        id="cause-matching-no-deployment-falls-back-to-heuristic",
    ),
    pytest.param(
        # two overlapping alerts naming D2 and D1 merge into one incident: it fails one deployment, the earliest
        flatten(
            deploy("D1", "a", 0),
            deploy("D2", "b", 1),
            incident("I1", 2, 4, cause_deployment="D2"),
            incident("I2", 3, 5, cause_deployment="D1"),
        ),
        72,
        {"D1": ["incident:I1"], "D2": []},
        id="each-incident-fails-at-most-one-deployment",
    ),
    pytest.param(
        # D4 redeploys D1's sha: D2 and D3 (everything in between) are rolled back
        flatten(deploy("D1", "a", 0), deploy("D2", "b", 1), deploy("D3", "c", 2), deploy("D4", "a", 3)),
        72,
        {"D1": [], "D2": ["rollback:D4"], "D3": ["rollback:D4"], "D4": []},
        id="rollback-by-redeploying-an-older-sha",
    ),
    pytest.param(
        flatten(deploy("D1", "a", 0), deploy("D2", "b", 1), deploy("R", "x", 2, rollback=True)),
        72,
        {"D1": [], "D2": ["rollback:R"], "R": []},
        id="rollback-flag-with-unknown-sha-fails-the-one-before",
    ),
    pytest.param(
        flatten(deploy("D1", "a", 0), deploy("D2", "b", 1), deploy("D3", "b", 2)),
        72,
        {"D1": [], "D2": [], "D3": []},
        id="redeploying-the-previous-sha-is-a-re-run",
    ),
    pytest.param(
        flatten(deploy("D1", "a", 0), deploy("D2", "b", 1), deploy("D3", "b", 2, rollback=True)),
        72,
        {"D1": [], "D2": [], "D3": []},
        id="flagged-re-run-is-not-a-rollback",
    ),
    pytest.param(
        # the rollback lands first, the deployments it rolls back arrive late
        flatten(deploy("D4", "a", 3), deploy("D3", "c", 2), deploy("D1", "a", 0), deploy("D2", "b", 1)),
        72,
        {"D1": [], "D2": ["rollback:D4"], "D3": ["rollback:D4"], "D4": []},
        id="rollback-arriving-before-what-it-rolls-back",
    ),
    pytest.param(
        # the incident arrives before the deployment it will be blamed on
        flatten(incident("I", 10, 11), deploy("D1", "a", 0)),
        72,
        {"D1": ["incident:I"]},
        id="incident-arriving-before-its-deployment",
    ),
]


@pytest.mark.parametrize(("events", "window_hours", "causes"), FAILURE_CASES)
def test_failed_deployments(
    events: list[UnifiedEvent], window_hours: float | None, causes: dict[str, list[str]]
) -> None:
    views = views_of(engine_of(events, window_hours=window_hours))
    assert {d: [f"{c.kind}:{c.id}" for c in v.failure_causes] for d, v in views.items()} == causes
    assert {d: v.failed for d, v in views.items()} == {d: bool(c) for d, c in causes.items()}


def test_change_failure_rate_and_level() -> None:
    # D2, D3 rolled back by D4; I fails D4 -> 3 failed of 4 = 0.75
    engine = engine_of(
        deploy("D1", "a", 0), deploy("D2", "b", 1), deploy("D3", "c", 2), deploy("D4", "a", 3), incident("I", 4, 5)
    )
    cfr = report_of(engine).change_failure_rate
    assert (cfr.rate, cfr.failed_deployments, cfr.deployments, cfr.level) == (0.75, 3, 4, "low")


@pytest.mark.parametrize(
    ("events", "recovery", "median"),
    [
        pytest.param(
            # I (1h-5h) fails D1; R (3h) redeploys D0's sha and rolls D1 back: earliest 3h - 0h
            flatten(deploy("D0", "z", -1), deploy("D1", "a", 0), incident("I", 1, 5), deploy("R", "z", 3)),
            {"D1": 3 * HOUR},
            3 * HOUR,
            id="rollback-before-resolution",
        ),
        pytest.param(
            # I resolves at 2h, before the rollback at 3h: 2h - 0h
            flatten(deploy("D0", "z", -1), deploy("D1", "a", 0), incident("I", 1, 2), deploy("R", "z", 3)),
            {"D1": 2 * HOUR},
            2 * HOUR,
            id="resolution-before-rollback",
        ),
        pytest.param(
            flatten(deploy("D1", "a", 0), incident("I", 1)),
            {},
            None,
            id="open-incident-not-recovered",
        ),
        pytest.param(
            # rollback D4 at 3h: D2 (1h) recovers after 2h, D3 (2h) after 1h
            flatten(deploy("D1", "a", 0), deploy("D2", "b", 1), deploy("D3", "c", 2), deploy("D4", "a", 3)),
            {"D2": 2 * HOUR, "D3": 1 * HOUR},
            1.5 * HOUR,  # median of 1h and 2h
            id="rollback-recovers-all-it-rolled-back",
        ),
    ],
)
def test_failed_deployment_recovery(
    events: list[UnifiedEvent], recovery: dict[str, float], median: float | None
) -> None:
    engine = engine_of(events)
    views = views_of(engine)
    assert {d: v.recovery_seconds for d, v in views.items() if v.recovery_seconds is not None} == recovery
    block = report_of(engine).failed_deployment_recovery
    assert (block.median_seconds, block.samples) == (median, len(recovery))
    # the mean of the same samples (hand-computed in the table: 3h, 2h, none, (2h + 1h) / 2)
    assert block.mean_seconds == (sum(recovery.values()) / len(recovery) if recovery else None)


def test_rework_rate() -> None:
    # D2 finishes while I (1h-3h) is open; D4 redeploys D1's sha (a rollback): 2 of 4 are rework
    engine = engine_of(
        deploy("D1", "a", 0),
        incident("I", 1, 3),
        deploy("D2", "b", 2),
        deploy("D3", "c", 4),
        deploy("D4", "a", 5),
    )
    rework = report_of(engine).rework_rate
    assert (rework.rate, rework.rework_deployments, rework.deployments) == (0.5, 2, 4)
    assert {d: v.rework for d, v in views_of(engine).items()} == {"D1": False, "D2": True, "D3": False, "D4": True}


def test_rework_during_an_open_incident() -> None:
    # I opens at 1h and stays open: D2 and D3 finish while it is open
    engine = engine_of(deploy("D1", "a", 0), opened("I", 1), deploy("D2", "b", 2), deploy("D3", "c", 3))
    assert report_of(engine).rework_rate.rework_deployments == 2


@pytest.mark.parametrize(
    ("events", "attempts", "deployments"),
    [
        pytest.param(
            flatten(deploy("D1", "a", 0, status=DeploymentStatus.FAILURE)),
            1,
            0,
            id="failure-is-an-attempt-not-a-deployment",
        ),
        pytest.param(
            flatten(
                deploy("D1", "a", 0, status=DeploymentStatus.ERROR),
                deploy("D1", "a", 0.1, status=DeploymentStatus.ERROR, rank=RANK_FINALIZED),
            ),
            1,
            0,
            id="deduplicated-by-deployment-id",
        ),
        pytest.param(
            flatten(deploy("D1", "a", 0, status=DeploymentStatus.FAILURE), deploy("D1", "a", 1)),
            0,
            1,
            id="ending-in-success-is-not-an-attempt",
        ),
        pytest.param(
            flatten(deploy("D1", "a", 0, status=DeploymentStatus.IN_PROGRESS)),
            0,
            0,
            id="in-progress-is-neither",
        ),
        pytest.param(
            # a failed attempt is not blamed: the incident at 2h fails D1, the last successful deployment
            flatten(deploy("D1", "a", 0), deploy("D2", "b", 1, status=DeploymentStatus.FAILURE), incident("I", 2, 3)),
            1,
            1,
            id="attempt-is-not-blamed",
        ),
    ],
)
def test_failed_attempts(events: list[UnifiedEvent], attempts: int, deployments: int) -> None:
    frequency = report_of(engine_of(events)).deployment_frequency
    assert (frequency.failed_attempts, frequency.deployments) == (attempts, deployments)


def test_rollback_views() -> None:
    views = views_of(engine_of(deploy("D1", "a", 0), deploy("D2", "b", 1), deploy("R", "x", 2, rollback=True)))
    assert [(v.deployment_id, v.rollback, v.rollback_flag) for v in views.values()] == [
        ("D1", False, False),
        ("D2", False, False),
        ("R", True, True),
    ]
