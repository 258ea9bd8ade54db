"""Logging is configured here, at the entry point, and nowhere else.

Every module logs through `logging.getLogger(__name__)` (so a logger's name is its module's:
`ingest.app`, `metricsync.embedded`, ...) with `key=value` context and %-style arguments.
`METRICSYNC_LOG_FORMAT` picks the output: `text` (one readable line per record) or `json` (one JSON
object per line, via python-json-logger: `time`, `level`, `logger`, `message`, each `key=value` of the
message as a field of its own, and any `extra` fields the call gave).
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any, Literal

from pythonjsonlogger.json import JsonFormatter

from metricsync.kafka.outage import RepeatFilter

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
_PAIR = re.compile(r"(?<![\w.])([a-z][a-z0-9_]*)=(?!=)(\"[^\"]*\"|'[^']*'|[^\s,;]*)")
_RESERVED = frozenset({"time", "level", "logger", "message", "exc_info", "stack_info"})

# aiokafka logs every failed attempt to reach a broker (dozens of lines a second while Kafka is
# down: 61,744 lines in a 12 s outage); its repeats are let through once per interval, counted.
CHATTY_LIBRARIES = ("aiokafka",)
REPEAT_INTERVAL = 10.0


def message_fields(message: str) -> dict[str, str]:
    """The `key=value` pairs of a log message (quotes around a value dropped); the first of a key wins."""
    fields: dict[str, str] = {}
    for key, value in _PAIR.findall(message):
        if key not in fields and key not in _RESERVED:
            fields[key] = value[1:-1] if value[:1] in ("'", '"') and len(value) >= 2 else value
    return fields


class JsonLineFormatter(JsonFormatter):
    """A record as one JSON object: time, level, logger, message, the message's key=value pairs and the
    call's `extra` fields (which win over pairs of the same name)."""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            json_ensure_ascii=False,
        )

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        super().add_fields(log_data, record, message_dict)
        for key, value in message_fields(record.getMessage()).items():
            log_data.setdefault(key, value)


def formatter(log_format: LogFormat) -> logging.Formatter:
    if log_format == "json":
        return JsonLineFormatter()
    return logging.Formatter(TEXT_FORMAT)


def configure_logging(level: str, log_format: LogFormat = "text") -> None:
    """Records at `level` and above go to stderr as `log_format` lines (uvicorn's own loggers too: the
    servers are started with `log_config=None`, so they propagate here); aiokafka's repeated lines
    are let through once per `REPEAT_INTERVAL`, counted."""
    # Nothing prints a record's caller, thread or process: skip collecting them on every call (the
    # logging HOWTO's "Optimization"; ingest writes a line per webhook).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    handler.addFilter(RepeatFilter(CHATTY_LIBRARIES, REPEAT_INTERVAL))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
