"""Human durations in settings: `72h`, `3d`, `90m`, `45s`, `1w` or plain seconds; `0` means none."""

import re
from datetime import timedelta

from schemas.errors import ConfigError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)


def parse_duration(text: str | int | float | timedelta, *, name: str) -> timedelta:
    if isinstance(text, timedelta):
        return text
    if isinstance(text, int | float):
        return timedelta(seconds=float(text))
    match = _PATTERN.match(text)
    if match is None:
        raise ConfigError(f"{name}={text!r} is not a duration; write e.g. 72h, 3d, 90m or a number of seconds")
    value, unit = match.groups()
    return timedelta(seconds=float(value) * _UNITS[(unit or "s").lower()])
