"""Resuming an interrupted import: per source and target, the phases already finished.

A phase counts as finished only once every record it produced was durably stored (the sink
returned), so an interruption repeats at most the phase it was in; its records are then duplicates
(deterministic delivery ids) and change nothing, and the ETag cache answers its requests with 304s.
A target whose phases all finished is forgotten: the next import of it reads it again (cheaply,
with the ETags), which is how a later run picks up what changed. Another `--since` starts over.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import orjson


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "_"


@dataclass
class TargetState:
    since: str
    phases: list[str] = field(default_factory=list)


class ImportState:
    def __init__(self, directory: Path, source: str) -> None:
        self.directory = directory / source
        self.source = source

    def _path(self, target: str) -> Path:
        return self.directory / f"{_slug(target.lower())}.json"

    def done(self, target: str, since: datetime) -> set[str]:
        try:
            data = orjson.loads(self._path(target).read_bytes())
        except FileNotFoundError:
            return set()
        if data.get("since") != since.isoformat():
            return set()
        return set(data.get("phases") or [])

    def mark(self, target: str, since: datetime, phase: str) -> None:
        phases = sorted(self.done(target, since) | {phase})
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(target)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps({"since": since.isoformat(), "phases": phases}))
        tmp.replace(path)

    def forget(self, target: str) -> None:
        self._path(target).unlink(missing_ok=True)

    def etag_file(self) -> Path:
        return self.directory / "http-cache.sqlite3"
