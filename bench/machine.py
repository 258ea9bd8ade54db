"""What the figures were measured on: cores, memory, CPU, Python and package versions, load."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = ("metricsync", "starlette", "uvicorn", "uvloop", "httptools", "aiokafka", "pymongo", "orjson", "pydantic")


def _meminfo_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _wrk_version() -> str:
    try:
        completed = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=5, check=False)
    except OSError:
        return "not installed"
    text = (completed.stdout + completed.stderr).strip().splitlines()
    return text[0] if text else "unknown"


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def describe() -> dict[str, str]:
    info = {
        "cores": str(os.cpu_count()),
        "memory": _meminfo_gib(),
        "cpu": _cpu_model(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "wrk": _wrk_version(),
        "servers": "Kafka 4.1.1 (KRaft, 1 node) and FerretDB 1.24.2 (SQLite) from scripts/services, unless set",
    }
    info.update({package: _version(package) for package in PACKAGES})
    return info
