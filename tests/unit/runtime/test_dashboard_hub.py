"""The live stream's hub: fan-out by service, replay after Last-Event-ID, reset when it cannot replay."""

from __future__ import annotations

import orjson
import pytest

from metricsync.dashboard.hub import StreamHub


def test_listeners_get_the_changes_of_their_services_only() -> None:
    hub = StreamHub(epoch="e1")
    shop = hub.listen(["acme/shop"])
    everything = hub.listen(None)
    hub.publish("acme/pay", b'{"a":1}')
    change = hub.publish("acme/shop", b'{"b":2}')
    assert orjson.loads(change.data) == {"service": "acme/shop", "snapshot": {"b": 2}}
    assert hub.event_id(change.seq) == "e1.2"
    assert shop._queue.qsize() == 1
    assert everything._queue.qsize() == 2
    hub.leave(shop)
    hub.leave(everything)
    assert hub.listeners == 0


@pytest.mark.parametrize(
    ("last_id", "services", "expected"),
    [
        pytest.param("e1.1", None, [2, 3], id="after-one"),
        pytest.param("e1.1", ["acme/shop"], [3], id="after-one-filtered"),
        pytest.param("e1.3", None, [], id="up-to-date"),
        pytest.param("e1.0", None, [1, 2, 3], id="from-the-start"),
        pytest.param("other.1", None, None, id="another-process"),
        pytest.param("e1.9", None, None, id="from-the-future"),
        pytest.param("garbage", None, None, id="malformed"),
    ],
)
def test_replay_after_last_event_id(last_id: str, services: list[str] | None, expected: list[int] | None) -> None:
    hub = StreamHub(epoch="e1")
    for service in ("acme/pay", "acme/pay", "acme/shop"):
        hub.publish(service, b"{}")
    replay = hub.since(last_id, services)
    assert (None if replay is None else [c.seq for c in replay]) == expected


def test_an_id_older_than_the_history_cannot_be_replayed() -> None:
    hub = StreamHub(history=2, epoch="e1")
    for _ in range(5):
        hub.publish("acme/pay", b"{}")
    assert hub.since("e1.1", None) is None  # 2 was dropped: a gap
    replay = hub.since("e1.3", None)
    assert replay is not None
    assert [c.seq for c in replay] == [4, 5]


async def test_a_listener_that_falls_behind_is_told_to_reload() -> None:
    hub = StreamHub(listener_limit=2, epoch="e1")
    listener = hub.listen(None)
    for _ in range(3):
        hub.publish("acme/pay", b"{}")
    assert listener.overflowed
    listener.drain()
    assert not listener.overflowed
    assert await listener.next(0.01) is None
    hub.publish("acme/pay", b"{}")
    change = await listener.next(0.1)
    assert change is not None
    assert change.seq == 4
