"""Order does not matter, duplicates do not matter, and the incremental engine agrees with a slow model.

Streams are random but built like real ones (see randomized.py); each seed is checked against the
reference model, then replayed in many random orders, with duplicates, and through export/import.
"""

import random

import pytest

from tests.unit.metrics_worker.factories import engine_of
from tests.unit.metrics_worker.randomized import KEYS, SERVICES, digest, random_stream, reports
from tests.unit.metrics_worker.reference import model

SEEDS = range(60)


@pytest.mark.parametrize("seed", SEEDS)
def test_engine_matches_reference_model(seed: int) -> None:
    events = random_stream(seed)
    engine = engine_of(events)
    got = digest(engine)
    for service in SERVICES:
        for key in KEYS:
            want = model(events, service, key, engine.config.attribution_window)
            assert got[(service, key)][0] == want[0], (service, key, "deployments")
            assert got[(service, key)][1] == want[1], (service, key, "incidents")


@pytest.mark.parametrize("seed", SEEDS)
def test_any_arrival_order_gives_the_same_state(seed: int) -> None:
    events = random_stream(seed)
    in_order = engine_of(events)
    expected, expected_reports = digest(in_order), reports(in_order)
    rng = random.Random(1000 + seed)
    for _ in range(15):
        shuffled = list(events)
        rng.shuffle(shuffled)
        engine = engine_of(shuffled)
        assert digest(engine) == expected
        assert reports(engine) == expected_reports


@pytest.mark.parametrize("seed", SEEDS[:20])
def test_reports_interleaved_with_events_do_not_disturb_state(seed: int) -> None:
    events = random_stream(seed)
    rng = random.Random(seed)
    rng.shuffle(events)
    engine = engine_of()
    for i, event in enumerate(events):
        engine.apply(event)
        if i % 7 == 0:
            reports(engine)
    assert digest(engine) == digest(engine_of(events))


@pytest.mark.parametrize("seed", SEEDS[:20])
def test_unlimited_attribution_window_matches_reference(seed: int) -> None:
    events = random_stream(seed)
    engine = engine_of(events, window_hours=None)
    got = digest(engine)
    for service in SERVICES:
        for key in KEYS:
            assert got[(service, key)] == model(events, service, key, None)
