from datetime import UTC, datetime

import pytest

from normalizer.timeparse import as_utc, from_epoch_ms, parse_time, parse_time_or_zero, rfc3339
from tests.unit.normalizer.factories import utc


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2019-05-15T15:20:55Z", "2019-05-15T15:20:55Z", id="github-z"),
        pytest.param("2018-06-15T13:01:51-07:00", "2018-06-15T20:01:51Z", id="push-author-offset-negative"),
        pytest.param("2018-06-15T13:01:51+05:30", "2018-06-15T07:31:51Z", id="offset-positive-half-hour"),
        pytest.param("2020-02-06T00:17:58.432911368Z", "2020-02-06T00:17:58.432911Z", id="go-nanoseconds-truncated"),
        pytest.param("2018-03-07T06:33:21.873077559-05:00", "2018-03-07T11:33:21.873077Z", id="nanoseconds-and-offset"),
        pytest.param("2017-05-09T07:01:37.803000000Z", "2017-05-09T07:01:37.803Z", id="nine-digit-zero-padded"),
        pytest.param("2017-05-09T07:08:37.81827Z", "2017-05-09T07:08:37.818270Z", id="five-digit-fraction"),
        pytest.param("2023-04-06T16:56:06.8987104-04:00", "2023-04-06T20:56:06.898710Z", id="cdevents-seven-digits"),
        pytest.param("2019-05-15t15:20:55z", "2019-05-15T15:20:55Z", id="lower-case-t-and-z"),
        pytest.param("2019-05-15 15:20:55+0000", "2019-05-15T15:20:55Z", id="space-and-compact-offset"),
        pytest.param("2019-12-31T23:30:00-01:00", "2020-01-01T00:30:00Z", id="offset-crosses-year"),
        pytest.param("2019-05-15T15:20:55,25Z", "2019-05-15T15:20:55.250Z", id="comma-fraction"),
        pytest.param("2019-05-15T15:20:55.123456+01:00", "2019-05-15T14:20:55.123456Z", id="six-digits-offset"),
        pytest.param("9999-12-31T23:59:59+01:00", "9999-12-31T22:59:59Z", id="last-year-positive-offset"),
    ],
)
def test_parse_time_gives_utc(text: str, expected: str) -> None:
    parsed = parse_time(text)
    assert parsed == utc(expected)
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("2019-05-15T15:20:55", id="no-offset"),
        pytest.param("2019-05-15", id="date-only"),
        pytest.param("1557933655", id="epoch-as-string"),
        pytest.param("2019-13-15T15:20:55Z", id="month-13"),
        pytest.param("2019-02-30T15:20:55Z", id="february-30"),
        pytest.param("0001-01-01T00:00:00+01:00", id="before-year-1-in-utc"),
        pytest.param("", id="empty"),
        pytest.param("yesterday", id="words"),
    ],
)
def test_parse_time_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"RFC 3339|valid date"):
        parse_time(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("0001-01-01T00:00:00Z", None, id="go-zero-time-is-unset"),
        pytest.param("2019-01-28T20:27:23.868893Z", utc("2019-01-28T20:27:23.868893Z"), id="real-end"),
    ],
)
def test_parse_time_or_zero(text: str, expected: datetime | None) -> None:
    assert parse_time_or_zero(text) == expected


@pytest.mark.parametrize(
    ("millis", "expected"),
    [
        pytest.param(1626611059215, utc("2021-07-18T12:24:19.215Z"), id="jenkins-completed"),
        pytest.param(1626611053632, utc("2021-07-18T12:24:13.632Z"), id="jenkins-started"),
        pytest.param(0, None, id="zero-is-unknown"),
        pytest.param(-5, None, id="negative-is-unknown"),
    ],
)
def test_from_epoch_ms(millis: int, expected: datetime | None) -> None:
    assert from_epoch_ms(millis) == expected


def test_from_epoch_ms_rejects_out_of_range() -> None:
    with pytest.raises(ValueError, match="out of range"):
        from_epoch_ms(10**17)


def test_as_utc_and_rfc3339() -> None:
    naive = datetime(2026, 1, 2, 3, 4, 5)
    assert as_utc(naive) == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert rfc3339(parse_time("2018-03-07T06:33:21.873077559-05:00")) == "2018-03-07T11:33:21.873077Z"
