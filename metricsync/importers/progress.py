"""What an import did: the counts it prints at the end, and the live line it shows while it runs."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TextIO

import orjson

from metricsync.importers.records import IMPORT_HEADER
from schemas.raw import RawDelivery


@dataclass(frozen=True)
class Skipped:
    """Something the API listed that is not imported, and why (counted in the summary)."""

    reason: str


Item = RawDelivery | Skipped


def record_kind(record: RawDelivery) -> str:
    """`deployment statuses`, `changes`, ... : what the summary counts a record as."""
    kind = record.delivery_id.split(":", 3)[2]
    return {
        "deployment_status": "deployment statuses",
        "compare": "commit ranges",
        "pull_request": "pull requests merged",
        "issue": "incident issues",
        "build": "builds",
        "alert": "alerts",
    }.get(kind, kind)


@dataclass
class ImportSummary:
    records: Counter[str] = field(default_factory=Counter)  # by kind
    new: int = 0
    duplicate: int = 0
    commits: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # by reason
    targets_done: int = 0

    def add(self, record: RawDelivery, new: bool) -> None:
        self.records[record_kind(record)] += 1
        if new:
            self.new += 1
        else:
            self.duplicate += 1
        if record.headers.get(IMPORT_HEADER) and record.event_type.endswith("compare"):
            self.commits += len(orjson.loads(record.body).get("commits") or [])

    def lines(self) -> list[str]:
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(self.records.items())) or "nothing"
        out = [f"imported: {kinds}"]
        if self.commits:
            out.append(f"  changes (commits) in those ranges: {self.commits}")
        out.append(f"  new records: {self.new}; already stored (duplicates, nothing changed): {self.duplicate}")
        for reason, n in sorted(self.skipped.items()):
            out.append(f"  skipped {n}: {reason}")
        return out


class ProgressLine:
    """One status line, rewritten in place on a terminal (requests, records, targets, elapsed and an
    estimate of what is left from the targets done so far); a plain line every 5 s elsewhere."""

    def __init__(self, out: TextIO, targets: int) -> None:
        self.out = out
        self.targets = targets
        self.tty = out.isatty()
        self.started = time.monotonic()
        self._last = 0.0

    def show(self, target: str, requests: int, summary: ImportSummary, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._last < (0.2 if self.tty else 5.0):
            return
        self._last = now
        elapsed = now - self.started
        done = summary.targets_done
        eta = ""
        if 0 < done < self.targets:
            eta = f", about {elapsed / done * (self.targets - done):.0f}s left"
        text = (
            f"{target}: {requests} requests, {sum(summary.records.values())} records "
            f"({summary.new} new), target {min(done + 1, self.targets)}/{self.targets}, {elapsed:.0f}s{eta}"
        )
        if self.tty:
            self.out.write("\r\x1b[2K" + text + ("\n" if final else ""))
        else:
            self.out.write(text + "\n")
        self.out.flush()
