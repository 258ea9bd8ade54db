"""The lead-time breakdown (docs/metrics.md section 7): every rule with hand-computed stage times.
Times are hours after T0 (Monday 2026-03-02 00:00Z); the expected values are in hours."""

import random

import orjson
import pytest

from metrics_worker.engine import EngineConfig, MetricEngine
from schemas.events import UnifiedEvent
from schemas.leadtime import ChangeStages, StageBreakdown
from tests.unit.metrics_worker.factories import HOUR, WEEK, ZERO, at, deploy, engine_of, flatten, push
from tests.unit.metrics_worker.pr_factories import branch_push, pr_flow

B0 = "b0" * 20  # main before the PR lands


def merge_commit_pr() -> list[UnifiedEvent]:
    """feat: f1 at 0h, f2 at 1h; PR #1 opened 2h, reviewed by bob 5h, merged 6h as merge commit m1
    (the push to main carries f1, f2 and m1); deployed at 8h."""
    return flatten(
        branch_push("pf", "feat", ZERO, [("f1", 0), ("f2", 1)]),
        pr_flow(1, ("feat", "f2"), opened=2, reviews=[("bob", 5)], merged=6, merge_sha="m1"),
        branch_push("pm", "main", B0, [("f1", 0), ("f2", 1), ("m1", 6)]),
        deploy("d1", "m1", 8),
    )


def hours(stages: ChangeStages) -> tuple[float | None, ...]:
    values = (
        stages.coding_seconds,
        stages.pickup_seconds,
        stages.review_seconds,
        stages.deploy_seconds,
        stages.lead_time_seconds,
    )
    return tuple(None if v is None else v / HOUR for v in values)


def changes(engine: MetricEngine, environment: str = "production") -> list[ChangeStages]:
    return engine.lead_time(None, environment, *WEEK, slowest=100)[1]


def breakdown(engine: MetricEngine, environment: str = "production") -> StageBreakdown:
    return engine.lead_time(None, environment, *WEEK)[0]


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        pytest.param(merge_commit_pr(), (2, 3, 1, 2, 8), id="merge-commit"),
        pytest.param(
            # squash: the branch's f1 0h, f2 1h; the push to main has only the squash commit s1 (5h)
            flatten(
                branch_push("pf", "sq", ZERO, [("f1", 0), ("f2", 1)]),
                pr_flow(2, ("sq", "f2"), opened=3, reviews=[("bob", 4)], merged=5, merge_sha="s1"),
                branch_push("pm", "main", B0, [("s1", 5)]),
                deploy("d1", "s1", 7),
            ),
            (3, 1, 1, 2, 7),
            id="squash-merge",
        ),
        pytest.param(
            # rebase: main gets copies r1, r2 (4h) of f1, f2; the merge sha is the last copy
            flatten(
                branch_push("pf", "rb", ZERO, [("f1", 0), ("f2", 1)]),
                pr_flow(3, ("rb", "f2"), opened=2, reviews=[("bob", 3)], merged=4, merge_sha="r2"),
                branch_push("pm", "main", B0, [("r1", 4), ("r2", 4)]),
                deploy("d1", "r2", 6),
            ),
            (2, 1, 1, 2, 6),
            id="rebase-merge",
        ),
        pytest.param(
            # alice reviews her own PR: no pickup, no review stage; it counts as unreviewed
            flatten(
                branch_push("pf", "own", ZERO, [("o1", 0)]),
                pr_flow(4, ("own", "o1"), opened=1, reviews=[("alice", 2)], merged=3, merge_sha="o1"),
                branch_push("pm", "main", B0, [("o1", 0)]),
                deploy("d1", "o1", 4),
            ),
            (1, None, None, 1, 4),
            id="reviewed-only-by-its-author",
        ),
        pytest.param(
            # a bot's review is not a pickup: bob's at 5h is
            flatten(
                branch_push("pf", "feat", ZERO, [("f1", 0)]),
                pr_flow(5, ("feat", "f1"), opened=1, reviews=[("ci[bot]", 2), ("bob", 5)], merged=6, merge_sha="m5"),
                branch_push("pm", "main", B0, [("f1", 0), ("m5", 6)]),
                deploy("d1", "m5", 7),
            ),
            (1, 4, 1, 1, 7),
            id="bot-review-is-no-pickup",
        ),
        pytest.param(
            # opened as a draft at 1h, ready at 4h: coding runs to 4h
            flatten(
                branch_push("pf", "dr", ZERO, [("d1c", 0)]),
                pr_flow(6, ("dr", "d1c"), opened=1, draft_until=4, reviews=[("bob", 5)], merged=6, merge_sha="m6"),
                branch_push("pm", "main", B0, [("d1c", 0), ("m6", 6)]),
                deploy("d1", "m6", 7),
            ),
            (4, 1, 1, 1, 7),
            id="draft-counts-from-ready",
        ),
        pytest.param(
            # opened 1h, closed 2h, reopened 10h: the pickup clock starts at the reopen
            flatten(
                branch_push("pf", "re", ZERO, [("e1", 0)]),
                pr_flow(
                    7, ("re", "e1"), opened=1, closed=2, reopened=10, reviews=[("bob", 12)], merged=13, merge_sha="m7"
                ),
                branch_push("pm", "main", B0, [("e1", 0), ("m7", 13)]),
                deploy("d1", "m7", 14),
            ),
            (10, 2, 1, 1, 14),
            id="reopened-restarts-pickup",
        ),
        pytest.param(
            # a review after the merge is not what the PR waited for
            flatten(
                branch_push("pf", "late", ZERO, [("l1", 0)]),
                pr_flow(8, ("late", "l1"), opened=1, reviews=[("bob", 9)], merged=3, merge_sha="m8"),
                branch_push("pm", "main", B0, [("l1", 0), ("m8", 3)]),
                deploy("d1", "m8", 4),
            ),
            (1, None, None, 1, 4),
            id="review-after-merge-ignored",
        ),
        pytest.param(
            # the PR was opened before its first commit: coding is 0, not negative
            flatten(
                pr_flow(9, ("early", "x1"), opened=1, reviews=[("bob", 3)], merged=4, merge_sha="m9"),
                branch_push("pf", "early", ZERO, [("x1", 2)]),
                branch_push("pm", "main", B0, [("x1", 2), ("m9", 4)]),
                deploy("d1", "m9", 5),
            ),
            (0, 2, 1, 1, 3),
            id="negative-stage-is-zero",
        ),
    ],
)
def test_stages_of_one_pr(events: list[UnifiedEvent], expected: tuple[float | None, ...]) -> None:
    (change,) = changes(engine_of(events))
    assert change.kind == "pr"
    assert hours(change) == expected


def test_merge_commit_pr_view() -> None:
    (change,) = changes(engine_of(merge_commit_pr()))
    assert change.model_dump() == {
        "kind": "pr",
        "service": "svc",
        "sha": "m1",
        "deployment_id": "d1",
        "deployed_at": at(8),
        "repo": "acme/svc",
        "number": 1,
        "url": "https://github.com/acme/svc/pull/1",
        "author": "alice",
        "first_commit_at": at(0),
        "ready_at": at(2),
        "first_review_at": at(5),
        "merged_at": at(6),
        "coding_seconds": 2 * HOUR,
        "pickup_seconds": 3 * HOUR,
        "review_seconds": 1 * HOUR,
        "deploy_seconds": 2 * HOUR,
        "lead_time_seconds": 8 * HOUR,
        "links": [
            {"rel": "pull-request", "href": "https://github.com/acme/svc/pull/1", "title": "acme/svc#1"},
            {
                "rel": "deployments",
                "href": "/api/v1/deployments?service=svc&environment=production"
                "&from=2026-03-02T08%3A00%3A00Z&to=2026-03-02T08%3A00%3A01Z",
                "title": "d1",
            },
        ],
    }


def test_direct_push_is_its_own_category() -> None:
    # c1 1h, c2 2h pushed straight to main, deployed 5h: two direct commits, leads 4h and 3h
    engine = engine_of(push("p1", B0, [("c1", 1), ("c2", 2)]), deploy("d1", "c2", 5))
    result = breakdown(engine)
    assert result.counts.model_dump() == {
        "pull_requests": 0,
        "bot_pull_requests": 0,
        "unreviewed_pull_requests": 0,
        "direct_commits": 2,
    }
    assert result.direct_lead_time.median_seconds == 3.5 * HOUR
    assert [s.samples for s in result.stages] == [0, 0, 0, 0]
    assert [(c.kind, c.sha, c.lead_time_seconds) for c in changes(engine)] == [
        ("direct", "c1", 4 * HOUR),
        ("direct", "c2", 3 * HOUR),
    ]


def test_pr_and_direct_commit_in_one_deployment() -> None:
    # the merge-commit PR, then c9 pushed straight to main at 7h; d1 at c9 (8h) ships both
    events = merge_commit_pr()[:-1] + flatten(push("p2", "m1", [("c9", 7)]), deploy("d1", "c9", 8))
    result = breakdown(engine_of(events))
    assert (result.counts.pull_requests, result.counts.direct_commits) == (1, 1)
    assert result.direct_lead_time.median_seconds == 1 * HOUR


def test_pr_shipped_by_two_deployments_counts_with_the_first() -> None:
    # m1 deployed at 8h and again at 10h: the PR belongs to d1 only; d2 ships nothing
    engine = engine_of(merge_commit_pr(), deploy("d2", "m1", 10))
    assert [(c.deployment_id, c.deploy_seconds) for c in changes(engine)] == [("d1", 2 * HOUR)]
    assert breakdown(engine).counts.pull_requests == 1


def test_deploy_stage_is_per_environment() -> None:
    # staging got m1 at 7h, production at 9h: deploy is 1h in staging and 3h in production
    events = [*merge_commit_pr()[:-1], deploy("s1", "m1", 7, environment="staging"), deploy("d1", "m1", 9)]
    engine = engine_of(events)
    assert [c.deploy_seconds for c in changes(engine, "staging")] == [1 * HOUR]
    assert [c.deploy_seconds for c in changes(engine, "production")] == [3 * HOUR]


def test_bot_authored_pr_is_counted_not_staged() -> None:
    events = flatten(
        branch_push("pf", "deps", ZERO, [("u1", 0)]),
        pr_flow(11, ("deps", "u1"), opened=1, merged=2, merge_sha="u2", author="dependabot[bot]"),
        branch_push("pm", "main", B0, [("u1", 0), ("u2", 2)]),
        deploy("d1", "u2", 3),
    )
    engine = engine_of(events)
    result = breakdown(engine)
    assert (result.counts.pull_requests, result.counts.bot_pull_requests, result.counts.direct_commits) == (0, 1, 0)
    assert [s.samples for s in result.stages] == [0, 0, 0, 0]
    assert [c.kind for c in changes(engine)] == ["bot_pr"]


def test_medians_and_p90_over_a_team() -> None:
    # three services, one PR each: coding 2h, 3h, 2h -> median 2h; p90 rank 1.8 -> 2 + 0.8 x 1 = 2.8h
    def one(service: str, coding: float) -> list[UnifiedEvent]:
        return flatten(
            branch_push("pf", "feat", ZERO, [("f1", 0)], service=service),
            pr_flow(
                1,
                ("feat", "f1"),
                opened=coding,
                reviews=[("bob", coding + 1)],
                merged=coding + 2,
                merge_sha="m1",
                service=service,
            ),
            branch_push("pm", "main", B0, [("f1", 0), ("m1", coding + 2)], service=service),
            deploy("d1", "m1", coding + 4, service=service),
        )

    engine = engine_of(one("a", 2), one("b", 3), one("c", 2))
    result, _ = engine.lead_time(["a", "b", "c"], "production", *WEEK)
    coding = result.stages[0]
    assert (coding.stage, coding.samples, coding.median_seconds, coding.p90_seconds) == (
        "coding",
        3,
        2 * HOUR,
        2.8 * HOUR,
    )
    assert [(s.stage, s.median_seconds) for s in result.stages[1:]] == [
        ("pickup", 1 * HOUR),
        ("review", 1 * HOUR),
        ("deploy", 2 * HOUR),
    ]
    only_b, _ = engine.lead_time(["b"], "production", *WEEK)
    assert only_b.stages[0].median_seconds == 3 * HOUR


def test_window_is_by_deployment_finish() -> None:
    engine = engine_of(merge_commit_pr())
    assert breakdown(engine).counts.pull_requests == 1
    result, _ = engine.lead_time(None, "production", at(8.5), at(100))
    assert result.counts.pull_requests == 0


def test_slowest_first_and_limited() -> None:
    engine = engine_of(push("p1", B0, [("c1", 1), ("c2", 2), ("c3", 3)]), deploy("d1", "c3", 5))
    _, slowest = engine.lead_time(None, "production", *WEEK, slowest=2)
    assert [c.sha for c in slowest] == ["c1", "c2"]


def test_stage_series_buckets() -> None:
    engine = engine_of(merge_commit_pr())
    points = engine.stage_series(None, "production", at(0), at(48), "day")
    assert [p.counts.pull_requests for p in points] == [1, 0]


def all_scenarios() -> list[UnifiedEvent]:
    events: list[UnifiedEvent] = []
    for service in ("a", "b"):
        events += [e.model_copy(update={"service": service, "id": f"{service}-{e.id}"}) for e in merge_commit_pr()]
    events += flatten(push("p1", B0, [("c1", 1), ("c2", 2)], service="c"), deploy("d1", "c2", 5, service="c"))
    return events


@pytest.mark.parametrize("seed", range(5))
def test_any_arrival_order_gives_the_same_breakdown(seed: int) -> None:
    events = all_scenarios()
    expected = engine_of(events).lead_time(None, "production", *WEEK)
    shuffled = events[:]
    random.Random(seed).shuffle(shuffled)
    assert engine_of(shuffled).lead_time(None, "production", *WEEK) == expected
    assert engine_of(shuffled, shuffled).lead_time(None, "production", *WEEK) == expected  # duplicates


def test_breakdown_survives_export_and_import() -> None:
    engine = engine_of(all_scenarios())
    copy = MetricEngine(EngineConfig())
    for service in ("a", "b", "c"):
        copy.import_service(service, orjson.loads(orjson.dumps(engine.export_service(service))))
    assert copy.lead_time(None, "production", *WEEK) == engine.lead_time(None, "production", *WEEK)


def test_retention_drops_old_pr_facts_with_their_commits() -> None:
    from datetime import timedelta

    engine = MetricEngine(EngineConfig(retention=timedelta(hours=100)))
    engine.apply_many(merge_commit_pr())
    engine.apply_many(flatten(push("p9", "m1", [("z1", 300)]), deploy("d9", "z1", 301)))
    assert engine.prune(at(301)) == frozenset({"svc"})
    data = engine.export_service("svc")
    assert data["pulls"]["rows"] == []  # all PR events were before the horizon (201h)
    assert [c.sha for c in engine.lead_time(None, "production", at(200), at(400))[1]] == ["z1"]


def test_pr_without_head_branch_follows_no_branch_pushes() -> None:
    # a merge known only from GitLab or CDEvents (no head_ref): its merge push's commits are its, but the
    # pushes ending at its head commit are not followed (they could be the base branch's)
    events = flatten(
        push("p0", B0, [("old", -50)]),  # main's earlier history, ending at old
        push("p1", "old", [("h1", 1)]),  # pushed to main, ending at the PR's head commit
        pr_flow(12, ("feat", "h1"), opened=2, reviews=[("bob", 3)], merged=4, merge_sha="m12"),
        push("p2", "h1", [("m12", 4)]),
        deploy("d1", "m12", 5),
    )
    no_branch = [e.model_copy(update={"head_ref": None}) if hasattr(e, "head_ref") else e for e in events]
    engine = engine_of(no_branch)
    pr = next(c for c in changes(engine) if c.kind == "pr")
    assert pr.first_commit_at == at(1)  # h1 (its head commit), not "old" at -50h


def test_reads_after_more_events_equal_a_fresh_engine() -> None:
    """The changes a read derives per deployment are kept for the next read (ServiceState.derived) until
    the service's next event: a read between any two events changes nothing of what comes after."""
    # deployments first: the pushes and PR events that arrive later change what they shipped
    events = flatten(
        deploy("d1", "m1", 8),
        deploy("d2", "m2", 15),
        deploy("d3", "m2", 20),
        merge_commit_pr()[:-1],
        branch_push("pg", "fix", ZERO, [("g1", 9)]),
        branch_push("pn", "main", "m1", [("g1", 9), ("m2", 13)]),
        pr_flow(2, ("fix", "g1"), opened=10, reviews=[("carol", 12)], merged=13, merge_sha="m2"),
    )
    whole = engine_of(events)
    expected = (changes(whole), breakdown(whole), whole.insights(None, "production", *WEEK))
    for cut in range(len(events) + 1):
        engine = MetricEngine(EngineConfig())
        engine.apply_many(events[:cut])
        changes(engine), breakdown(engine), engine.insights(None, "production", *WEEK)  # fills the memo
        engine.apply_many(events[cut:])
        assert (changes(engine), breakdown(engine), engine.insights(None, "production", *WEEK)) == expected, cut
