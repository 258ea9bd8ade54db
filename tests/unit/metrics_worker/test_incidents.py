"""Merging incident signals, time to restore, open incidents."""

import pytest

from schemas.events import UnifiedEvent
from tests.unit.metrics_worker.factories import (
    HOUR,
    WEEK,
    deploy,
    engine_of,
    flatten,
    incident,
    opened,
    report_of,
    resolved,
)


@pytest.mark.parametrize(
    ("events", "merged", "ttr"),
    [
        pytest.param(
            flatten(incident("A", 0, 2), incident("B", 1, 3)),
            [("A", ["A", "B"], 3 * HOUR)],
            # one incident 0h-3h: median = p90 = 3h
            (3 * HOUR, 3 * HOUR, 1, 0),
            id="overlapping-alerts-merge",
        ),
        pytest.param(
            flatten(incident("A", 0, 1), incident("B", 1, 2)),
            [("A", ["A", "B"], 2 * HOUR)],
            (2 * HOUR, 2 * HOUR, 1, 0),
            id="touching-alerts-merge",
        ),
        pytest.param(
            flatten(incident("A", 0, 1), incident("B", 2, 4)),
            [("A", ["A"], 1 * HOUR), ("B", ["B"], 2 * HOUR)],
            # [1h, 2h]: median 1.5h; p90 rank 0.9 -> 1h + 0.9*1h = 1.9h
            (1.5 * HOUR, 1.9 * HOUR, 2, 0),
            id="separate-alerts",
        ),
        pytest.param(
            flatten(incident("A", 0, 10), incident("B", 1, 2), incident("C", 3, 4)),
            [("A", ["A", "B", "C"], 10 * HOUR)],
            (10 * HOUR, 10 * HOUR, 1, 0),
            id="alerts-inside-a-long-one",
        ),
        pytest.param(
            flatten(opened("A", 0), incident("B", 5, 6)),
            [("A", ["A", "B"], None)],
            (None, None, 0, 1),
            id="open-alert-swallows-later-ones",
        ),
        pytest.param(
            flatten(resolved("A", 0, 1)),
            [("A", ["A"], 1 * HOUR)],
            (1 * HOUR, 1 * HOUR, 1, 0),
            id="resolved-without-firing",
        ),
        pytest.param(
            flatten(resolved("A", 0, 1), opened("A", 0)),
            [("A", ["A"], 1 * HOUR)],
            (1 * HOUR, 1 * HOUR, 1, 0),
            id="resolve-before-its-firing",
        ),
        pytest.param(
            # starts before the window [Sunday, next Sunday): not counted, even though it ends inside
            flatten(incident("A", -30, -20), incident("B", 0, 1)),
            [("B", ["B"], 1 * HOUR)],
            (1 * HOUR, 1 * HOUR, 1, 0),
            id="only-incidents-starting-in-the-window",
        ),
    ],
)
def test_merged_incidents_and_time_to_restore(
    events: list[UnifiedEvent],
    merged: list[tuple[str, list[str], float | None]],
    ttr: tuple[float | None, float | None, int, int],
) -> None:
    engine = engine_of(events)
    views = engine.incidents(None, "production", *WEEK)
    assert [(v.incident_id, v.parts, v.restore_seconds) for v in views] == merged
    block = report_of(engine).time_to_restore
    assert (block.median_seconds, block.p90_seconds, block.incidents, block.open_incidents) == ttr
    restores = [seconds for _, _, seconds in merged if seconds is not None]
    assert block.mean_seconds == (sum(restores) / len(restores) if restores else None)


def test_merged_incident_keeps_the_causes_of_its_parts() -> None:
    engine = engine_of(
        deploy("D1", "a", -1),
        incident("A", 0, 2, cause_deployment="D1"),
        incident("B", 1, 3, cause_sha="abc"),
        incident("C", 2.5, 4),
    )
    [view] = engine.incidents(None, "production", *WEEK)
    assert (view.parts, view.cause_deployment_ids, view.cause_shas) == (["A", "B", "C"], ["D1"], ["abc"])
    assert view.failed_deployment_id == "D1"


def test_resolving_the_open_alert_splits_the_incident() -> None:
    engine = engine_of(opened("A", 0), incident("B", 5, 6))
    assert len(engine.incidents(None, "production", *WEEK)) == 1
    engine.apply(resolved("A", 0, 1))
    views = engine.incidents(None, "production", *WEEK)
    assert [(v.incident_id, v.restore_seconds) for v in views] == [("A", 1 * HOUR), ("B", 1 * HOUR)]


def test_time_to_restore_level() -> None:
    # 30 min: elite (< 1 hour)
    assert report_of(engine_of(incident("A", 0, 0.5))).time_to_restore.level == "elite"
