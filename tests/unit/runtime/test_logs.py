"""METRICSYNC_LOG_FORMAT: text lines, or JSON lines whose key=value pairs and extra fields are fields."""

from __future__ import annotations

import io
import logging

import orjson
import pytest

from metricsync.logs import formatter, message_fields
from metricsync.settings import Settings


def render(log_format: str, message: str, *args: object, **extra: object) -> str:
    record = logging.LogRecord("metricsync.embedded", logging.WARNING, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter(log_format))  # type: ignore[arg-type]
    handler.emit(record)
    return stream.getvalue()


@pytest.mark.parametrize(
    ("message", "fields"),
    [
        pytest.param("engine loaded events=12 seconds=0.50", {"events": "12", "seconds": "0.50"}, id="pairs"),
        pytest.param("state loaded partitions=[1, 2] services=3", {"partitions": "[1", "services": "3"}, id="lists"),
        pytest.param('failed error="bad thing" key=a', {"error": "bad thing", "key": "a"}, id="quoted"),
        pytest.param("x=1 x=2 message=m level=l", {"x": "1"}, id="first-wins-reserved-skipped"),
        pytest.param("no pairs here, a==b", {}, id="none"),
    ],
)
def test_message_fields(message: str, fields: dict[str, str]) -> None:
    assert message_fields(message) == fields


def test_json_lines_carry_the_pairs_and_the_extra_fields() -> None:
    line = render("json", "worker batch failed events=%d", 2000, outcome="failed", status=500)
    assert line.endswith("\n")
    assert line.count("\n") == 1
    document = orjson.loads(line)
    assert document["level"] == "WARNING"
    assert document["logger"] == "metricsync.embedded"
    assert document["message"] == "worker batch failed events=2000"
    assert document["events"] == "2000"
    assert document["outcome"] == "failed"
    assert document["status"] == 500  # an extra field keeps its type
    assert "time" in document


def test_json_lines_carry_the_traceback() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    document = orjson.loads(formatter("json").format(record))
    assert "RuntimeError: boom" in document["exc_info"]


def test_text_lines_are_unchanged() -> None:
    line = render("text", "engine loaded events=%d", 12)
    assert line.endswith(" WARNING metricsync.embedded engine loaded events=12\n")


def test_the_format_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().log_format == "text"
    monkeypatch.setenv("METRICSYNC_LOG_FORMAT", "json")
    assert Settings().log_format == "json"
    monkeypatch.setenv("METRICSYNC_LOG_FORMAT", "xml")
    with pytest.raises(ValueError, match="log_format"):
        Settings()
