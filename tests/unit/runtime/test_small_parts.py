"""Durations, settings, the in-memory bus and read-API query parsing."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from metricsync.durations import parse_duration
from metricsync.embedded.memory_bus import MemoryBus
from metricsync.settings import Settings
from metricsync.web.read_api import BadQueryError, parse_time
from schemas.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("72h", timedelta(hours=72), id="hours"),
        pytest.param("3d", timedelta(days=3), id="days"),
        pytest.param("90m", timedelta(minutes=90), id="minutes"),
        pytest.param("1w", timedelta(weeks=1), id="weeks"),
        pytest.param("3600", timedelta(hours=1), id="plain-seconds"),
        pytest.param("0", timedelta(0), id="zero"),
        pytest.param(" 1.5H ", timedelta(minutes=90), id="fraction-and-case"),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text, name="X") == expected


def test_parse_duration_names_the_setting() -> None:
    with pytest.raises(ConfigError, match="METRICSYNC_ATTRIBUTION_WINDOW='three days'"):
        parse_duration("three days", name="METRICSYNC_ATTRIBUTION_WINDOW")


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METRICSYNC_ALERT_SERVICE_LABELS", "app, team")
    monkeypatch.setenv("METRICSYNC_ATTRIBUTION_WINDOW", "0")
    monkeypatch.setenv("METRICSYNC_GITHUB_SECRET", "s3cret")
    settings = Settings()
    assert settings.mapping.alert_service_labels == ("app", "team")
    assert settings.attribution_window == timedelta(0)
    assert settings.ingest.github_secret is not None
    assert "s3cret" not in repr(settings)


def test_catalog_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml does not exist"):
        Settings(config=tmp_path / "nope.toml").catalog()
    bad = tmp_path / "bad.toml"
    bad.write_text("[services\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        Settings(config=bad).catalog()


def test_catalog_file_maps_aliases_and_teams(tmp_path: Path) -> None:
    path = tmp_path / "services.toml"
    path.write_text('[services.payments]\naliases = ["Acme/Payments-API", "pay-deploy"]\nteam = "checkout"\n')
    catalog = Settings(config=path).catalog()
    assert catalog.resolve("acme/payments-api") == "payments"
    assert catalog.resolve("PAY-DEPLOY") == "payments"
    assert catalog.resolve("other/repo") == "other/repo"
    assert catalog.team_services("checkout") == frozenset({"payments"})


async def test_memory_bus_fans_out_in_order() -> None:
    bus = MemoryBus()
    first, second = bus.subscribe("t"), bus.subscribe("t")
    other = bus.subscribe("u")
    for i in range(3):
        await bus.publish("t", b"k", str(i).encode())
    assert [m.value for m in await first.get_batch(10)] == [b"0", b"1", b"2"]
    assert [m.value for m in await second.get_batch(2)] == [b"0", b"1"]
    assert await other.get_batch(10, wait_seconds=0.01) == []
    first.close()
    await bus.publish("t", b"k", b"3")
    assert first.pending() == 0
    assert [m.value for m in await second.get_batch(10)] == [b"2", b"3"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC), id="date"),
        pytest.param("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, tzinfo=UTC), id="zulu"),
        pytest.param("2024-05-01T14:00:00+02:00", datetime(2024, 5, 1, 12, tzinfo=UTC), id="offset"),
        pytest.param("2024-05-01T12:00:00", datetime(2024, 5, 1, 12, tzinfo=UTC), id="naive-is-utc"),
    ],
)
def test_parse_time(text: str, expected: datetime) -> None:
    assert parse_time("from", text) == expected


def test_parse_time_rejects_garbage_naming_the_parameter() -> None:
    with pytest.raises(BadQueryError, match="'to'='yesterday' is not ISO 8601"):
        parse_time("to", "yesterday")
