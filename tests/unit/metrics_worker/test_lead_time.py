"""Changes of a deployment (the walk back through pushes) and lead time. Hours are after T0."""

import pytest

from schemas.events import UnifiedEvent
from tests.unit.metrics_worker.factories import HOUR, ZERO, deploy, engine_of, flatten, push, report_of, views_of


def walk_back(a1: str, a2: str, a3: str, a4: str, a5: str) -> list[UnifiedEvent]:
    """P1 a1 0h, a2 1h -> P2 (before a2) a3 2h -> P3 (before a3) a4 3h, a5 4h; D1 at a5 6h."""
    return flatten(
        push("P1", ZERO, [(a1, 0), (a2, 1)]),
        push("P2", a2, [(a3, 2)]),
        push("P3", a3, [(a4, 3), (a5, 4)]),
        deploy("D1", a5, 6),
    )


CASES = [
    pytest.param(
        walk_back("a1", "a2", "a3", "a4", "a5"),
        {"D1": ["a1", "a2", "a3", "a4", "a5"]},
        # leads 6, 5, 4, 3, 2 h: median 4h; p90 rank 4*0.9 = 3.6 -> 5h + 0.6*1h = 5.6h
        (4 * HOUR, 5.6 * HOUR, 5, 0),
        id="walk-back-through-several-pushes",
    ),
    pytest.param(
        # the same with shas holding a space (no real sha does; the graph keeps them apart anyway)
        walk_back("a 1", "a 2", "a3", "a 4", "a5"),
        {"D1": ["a 1", "a 2", "a3", "a 4", "a5"]},
        (4 * HOUR, 5.6 * HOUR, 5, 0),
        id="shas-holding-a-space",
    ),
    pytest.param(
        # one push b1 0h, b2 1h, b3 2h; D1 deploys b2 (the middle) at 4h, D2 deploys b3 at 5h
        flatten(push("P1", ZERO, [("b1", 0), ("b2", 1), ("b3", 2)]), deploy("D1", "b2", 4), deploy("D2", "b3", 5)),
        {"D1": ["b1", "b2"], "D2": ["b3"]},
        # leads: D1 b1 4h, b2 3h; D2 b3 3h -> [3, 3, 4] h: median 3h; p90 rank 1.8 -> 3h + 0.8*1h = 3.8h
        (3 * HOUR, 3.8 * HOUR, 3, 0),
        id="push-containing-the-sha-only-up-to-it",
    ),
    pytest.param(
        flatten(push("P1", ZERO, [("c1", 0)]), deploy("D1", "zz", 4)),
        {"D1": []},
        (None, None, 0, 1),
        id="deployment-with-no-known-push",
    ),
    pytest.param(
        flatten(deploy("D1", None, 4)),
        {"D1": []},
        (None, None, 0, 1),
        id="deployment-without-sha",
    ),
    pytest.param(
        # D2 redeploys c2, which D1 already shipped: D2 ships nothing
        flatten(push("P1", ZERO, [("c1", 0), ("c2", 1)]), deploy("D1", "c2", 2), deploy("D2", "c2", 3)),
        {"D1": ["c1", "c2"], "D2": []},
        # leads 2h, 1h -> median 1.5h; p90 rank 0.9 -> 1h + 0.9*1h = 1.9h
        (1.5 * HOUR, 1.9 * HOUR, 2, 1),
        id="commit-shipped-by-two-deployments-counts-once",
    ),
    pytest.param(
        # f1 is pushed to a feature branch at 1h, then again with the merge to main at 3h (commit time 3h)
        flatten(
            push("F", ZERO, [("f1", 1)]),
            push("M", ZERO, [("f1", 3), ("m1", 4)]),
            deploy("D1", "m1", 6),
        ),
        {"D1": ["f1", "m1"]},
        # f1 counts once with its earliest time: 6h - 1h = 5h; m1 2h -> median 3.5h; p90 2h + 0.9*3h = 4.7h
        (3.5 * HOUR, 4.7 * HOUR, 2, 0),
        id="commit-in-two-pushes-once-earliest-time",
    ),
    pytest.param(
        # n2's commit time (5h) is after the deployment (4h): clock skew, left out of the lead times
        flatten(push("P1", ZERO, [("n1", 0), ("n2", 5)]), deploy("D1", "n2", 4)),
        {"D1": ["n1", "n2"]},
        (4 * HOUR, 4 * HOUR, 1, 0),
        id="negative-lead-time-dropped",
    ),
    pytest.param(
        # D1 shipped a1, a2; D2's walk from a3 stops at a2
        flatten(
            push("P1", ZERO, [("a1", 0), ("a2", 1)]),
            deploy("D1", "a2", 2),
            push("P2", "a2", [("a3", 3)]),
            deploy("D2", "a3", 4),
        ),
        {"D1": ["a1", "a2"], "D2": ["a3"]},
        # leads 2h, 1h, 1h -> median 1h; p90 rank 1.8 -> 1h + 0.8*1h = 1.8h
        (1 * HOUR, 1.8 * HOUR, 3, 0),
        id="walk-stops-at-what-an-earlier-deployment-shipped",
    ),
    pytest.param(
        # the push's commit list does not reach its `after` (truncated): after leads to all its commits
        flatten(push("P1", ZERO, [("t1", 0), ("t2", 1)], after="t9"), deploy("D1", "t9", 3)),
        {"D1": ["t1", "t2"]},
        # leads 3h, 2h -> median 2.5h; p90 2h + 0.9*1h = 2.9h
        (2.5 * HOUR, 2.9 * HOUR, 2, 0),
        id="push-whose-after-is-not-among-its-commits",
    ),
    pytest.param(
        # the push arrives after the deployment it belongs to
        flatten(deploy("D1", "a2", 2), push("P1", ZERO, [("a1", 0), ("a2", 1)])),
        {"D1": ["a1", "a2"]},
        (1.5 * HOUR, 1.9 * HOUR, 2, 0),
        id="late-push",
    ),
    pytest.param(
        # the same chain, but D2 (at a3) arrives before D1 (at a2) although it finished later
        flatten(
            push("P1", ZERO, [("a1", 0), ("a2", 1)]),
            push("P2", "a2", [("a3", 3)]),
            deploy("D2", "a3", 4),
            deploy("D1", "a2", 2),
        ),
        {"D1": ["a1", "a2"], "D2": ["a3"]},
        (1 * HOUR, 1.8 * HOUR, 3, 0),
        id="late-earlier-deployment-takes-its-commits-back",
    ),
]


@pytest.mark.parametrize(("events", "changes", "expected"), CASES)
def test_changes_and_lead_time(
    events: list[UnifiedEvent],
    changes: dict[str, list[str]],
    expected: tuple[float | None, float | None, int, int],
) -> None:
    engine = engine_of(events)
    views = views_of(engine)
    assert {d: [c.sha for c in v.changes] for d, v in views.items()} == changes
    lead = report_of(engine).lead_time
    assert (lead.median_seconds, lead.p90_seconds, lead.changes, lead.deployments_without_changes) == pytest.approx(
        expected
    )


def test_change_view_shows_commit_time_and_lead() -> None:
    engine = engine_of(push("P1", ZERO, [("n1", 0), ("n2", 5)]), deploy("D1", "n2", 4))
    changes = views_of(engine)["D1"].changes
    # n1: 4h - 0h = 14400 s; n2: 4h - 5h = -3600 s (shown, not counted)
    assert [(c.sha, c.lead_time_seconds) for c in changes] == [("n1", 14_400.0), ("n2", -3_600.0)]


def test_lead_time_level_from_the_median() -> None:
    engine = engine_of(push("P1", ZERO, [("a1", 0)]), deploy("D1", "a1", 30))
    lead = report_of(engine).lead_time
    assert (lead.median_seconds, lead.level) == (30 * HOUR, "high")  # 30h: >= 1 day, < 7 days


def test_mean_beside_the_median() -> None:
    # leads 1h, 1h, 10h (docs/metrics.md, "Why the median is the headline"): the median stays at the
    # typical 1h, the mean follows the long one: (1 + 1 + 10) / 3 = 4h = 14,400 s
    engine = engine_of(
        push("P1", ZERO, [("a1", 0)]),
        deploy("D1", "a1", 1),
        push("P2", "a1", [("b1", 10)]),
        deploy("D2", "b1", 11),
        push("P3", "b1", [("c1", 12)]),
        deploy("D3", "c1", 22),
    )
    lead = report_of(engine).lead_time
    assert (lead.median_seconds, lead.mean_seconds, lead.changes) == (1 * HOUR, 4 * HOUR, 3)
