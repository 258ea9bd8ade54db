"""`metricsync backup` and `metricsync restore`: the embedded SQLite database, copied consistently.

Backup uses SQLite's online backup API in one step: it reads the database inside one read transaction,
so the copy is the database as of one moment, while `metricsync serve` goes on writing (WAL mode: the
writer is not blocked; what it commits after that moment is not in the copy). The copy is written to a
temporary file beside the target, checked (`PRAGMA integrity_check`), and renamed into place.

Restore needs the server stopped (it takes the data directory's lock): it checks the backup the same
way, moves the current database aside (`metricsync.sqlite3.before-restore-<time>`), and puts the copy in
place; the next `serve` loads the restored events and goes on normalizing from the restored cursor
(docs/operations.md).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from metricsync.embedded.datadir import DataDirLock, db_path
from metricsync.errors import StoreError
from schemas.errors import ConfigError

log = logging.getLogger(__name__)

REQUIRED_TABLES = ("raw_deliveries",)


def _check(path: Path) -> None:
    """The file is a healthy MetricSync database, or ConfigError naming what is wrong."""
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            result = conn.execute("PRAGMA integrity_check").fetchone()
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as e:
        raise ConfigError(f"{path} is not a SQLite database ({e})") from e
    if result is None or result[0] != "ok":
        raise ConfigError(f"{path} fails SQLite's integrity check: {result[0] if result else 'no answer'}")
    missing = [table for table in REQUIRED_TABLES if table not in tables]
    if missing:
        raise ConfigError(f"{path} is not a MetricSync database (no table {', '.join(missing)})")


def backup(data_dir: Path, target: Path) -> int:
    """Copy the database of `data_dir` to `target` (a file; replaced if it exists); its size in bytes."""
    source = db_path(data_dir)
    if not source.exists():
        raise ConfigError(f"no MetricSync database at {source}; is METRICSYNC_DATA_DIR / --data-dir right?")
    target = target.resolve()
    if target == source.resolve():
        raise ConfigError("the backup target is the database itself; give another path")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    started = time.perf_counter()
    try:
        with (
            closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src,
            closing(sqlite3.connect(partial)) as dst,
        ):
            src.execute("PRAGMA busy_timeout=10000")
            src.backup(dst, pages=-1)  # one step: one read transaction, one consistent moment
            dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
    except sqlite3.Error as e:
        partial.unlink(missing_ok=True)
        raise StoreError(f"backup of {source} failed: {e}") from e
    _check(partial)
    os.replace(partial, target)
    size = target.stat().st_size
    log.info(
        "backup done source=%s target=%s bytes=%d seconds=%.2f", source, target, size, time.perf_counter() - started
    )
    return size


def restore(data_dir: Path, backup_file: Path, now: datetime | None = None) -> Path | None:
    """Put `backup_file` in place as the database of `data_dir` (the server must be stopped); the path the
    previous database was moved to, or None if there was none."""
    if not backup_file.is_file():
        raise ConfigError(f"no backup file at {backup_file}")
    _check(backup_file)
    with DataDirLock(data_dir):
        current = db_path(data_dir)
        moved: Path | None = None
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        if current.exists():
            moved = current.with_name(f"{current.name}.before-restore-{stamp}")
            os.replace(current, moved)
        for suffix in ("-wal", "-shm"):  # the old database's; they must not be applied to the copy
            side = current.with_name(current.name + suffix)
            if side.exists():
                os.replace(side, side.with_name(f"{side.name}.before-restore-{stamp}"))
        partial = current.with_name(f".{current.name}.restoring")
        with (
            closing(sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)) as src,
            closing(sqlite3.connect(partial)) as dst,
        ):
            src.backup(dst, pages=-1)
        os.replace(partial, current)
    log.info("restore done data_dir=%s from=%s previous=%s", data_dir, backup_file, moved)
    return moved
