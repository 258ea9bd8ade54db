"""Runs an importer against a sink: resume, dry run, progress, summary.

The sink is the same `DeliverySink` webhooks go through (embedded: mapped and stored in SQLite;
distributed: published to the raw topic), so imported records take the webhooks' path from there.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import ClassVar, Protocol, TextIO

from metricsync.importers.progress import ImportSummary, Item, ProgressLine, Skipped, record_kind
from metricsync.importers.state import ImportState
from schemas.ports import DeliverySink

log = logging.getLogger(__name__)


class Importer(Protocol):
    PHASES: ClassVar[tuple[str, ...]]

    def phase(self, target: str, name: str) -> AsyncIterator[Item]: ...


async def run_import(
    importer: Importer,
    targets: Sequence[str],
    since: datetime,
    sink: DeliverySink | None,
    state: ImportState,
    out: TextIO,
    requests: Callable[[], int],
) -> ImportSummary:
    """Import every target; `sink` None is a dry run (prints each record, stores nothing, keeps no
    resume state)."""
    summary = ImportSummary()
    progress = ProgressLine(out, len(targets))
    for target in targets:
        done = set() if sink is None else state.done(target, since)
        if done:
            print(f"{target}: resuming; finished before: {', '.join(sorted(done))}", file=out)
        for phase in importer.PHASES:
            if phase in done:
                continue
            async for item in importer.phase(target, phase):
                if isinstance(item, Skipped):
                    summary.skipped[item.reason] += 1
                    continue
                if sink is None:
                    print(f"would import {record_kind(item)}: {item.delivery_id}", file=out)
                    summary.add(item, new=True)
                else:
                    summary.add(item, new=await sink.submit(item))
                progress.show(target, requests(), summary)
            if sink is not None:
                state.mark(target, since, phase)
            log.info("import phase done source=%s target=%s phase=%s", state.source, target, phase)
        if sink is not None:
            state.forget(target)  # finished: nothing to resume
        summary.targets_done += 1
    progress.show(targets[-1] if targets else "-", requests(), summary, final=True)
    return summary
