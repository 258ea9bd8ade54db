"""Noticing that the catalog or the mapping settings changed since the stored events were derived.

Embedded mode derives events when a webhook arrives, with the catalog's aliases and the mapping settings
of that moment (`normalizer.rules.rules_fingerprint`). The data directory remembers the fingerprint its
events were derived with. `metricsync serve` compares: same, or no events yet, it starts; different, it
refuses to start and names the command that re-derives the history (`metricsync rebuild`), or the flag
that applies the change to new webhooks only (`serve --accept-rule-change`). Refusing rather than
re-deriving in the background: a rebuild changes every number, and the operator should choose when
(docs/operations.md, "Catalog and rule changes").
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from pathlib import Path

from schemas.errors import ConfigError

log = logging.getLogger(__name__)

KEY = "rules_fingerprint"
_TABLE = "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)"


class RulesChanged(ConfigError):
    """The catalog or mapping settings differ from those the stored events were derived with."""


def _open(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute(_TABLE)
    return conn


def stored_fingerprint(path: Path) -> str | None:
    with closing(_open(path)) as conn:
        row = conn.execute("SELECT value FROM meta WHERE name = ?", (KEY,)).fetchone()
    return None if row is None else str(row[0])


def store_fingerprint(path: Path, fingerprint: str) -> None:
    with closing(_open(path)) as conn:
        conn.execute(
            "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = ?",
            (KEY, fingerprint, fingerprint),
        )


def _has_events(path: Path) -> bool:
    with closing(_open(path)) as conn:
        exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'raw_deliveries'").fetchone()
        return bool(exists) and conn.execute("SELECT 1 FROM raw_deliveries LIMIT 1").fetchone() is not None


def check_before_serving(path: Path, current: str, data_dir: Path, accept_change: bool) -> None:
    """Start, or raise RulesChanged with the command to run (the caller holds the data directory's lock)."""
    stored = stored_fingerprint(path)
    if stored == current:
        return
    if stored is None or not _has_events(path) or accept_change:
        if stored is not None:
            log.warning(
                "catalog or mapping settings changed data_dir=%s was=%s now=%s: new webhooks only "
                "(--accept-rule-change); stored history keeps the old derivation until `metricsync rebuild`",
                data_dir,
                stored,
                current,
            )
        store_fingerprint(path, current)
        return
    raise RulesChanged(
        f"the service catalog (METRICSYNC_CONFIG aliases) or the mapping settings (METRICSYNC_JENKINS_*, "
        f"METRICSYNC_ALERT_*, METRICSYNC_PRODUCTION_PATTERN, ...) changed since the events in {data_dir} were "
        f"derived (fingerprint {stored} -> {current}). Re-derive the history with the new ones: "
        f"`metricsync rebuild --data-dir {data_dir}` (then serve again), or apply the change to new webhooks "
        f"only: `metricsync serve --accept-rule-change`."
    )
