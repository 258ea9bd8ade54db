"""prometheus-client's multiprocess mode for `metricsync ingest` with several worker processes:
each process writes its values to files in one directory, any process's /metrics merges them."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.multiprocess import mark_process_dead


def mark_dead(pid: int, directory: Path) -> None:
    """A worker process exited: drop its live-only gauge values (its counters stay in the sums)."""
    mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]
