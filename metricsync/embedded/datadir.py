"""The embedded data directory: the SQLite file, and a lock so two processes never share it."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from schemas.errors import ConfigError

DB_FILE = "metricsync.sqlite3"
LOCK_FILE = "metricsync.lock"


class DataDirLock:
    """An exclusive advisory lock on the data directory, held while serving or rebuilding."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._fd: int | None = None

    def __enter__(self) -> DataDirLock:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ConfigError(
                f"data directory {self.data_dir} is in use by another MetricSync process; stop it first"
            ) from None
        self._fd = fd
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def db_path(data_dir: Path) -> Path:
    return data_dir / DB_FILE
