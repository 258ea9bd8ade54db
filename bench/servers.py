"""Kafka and the MongoDB-wire server for the distributed scenarios.

METRICSYNC_KAFKA_BOOTSTRAP and METRICSYNC_MONGO_URI, when both are set, name servers to use as they
are; otherwise `scripts/services up` starts a private Kafka and FerretDB on free loopback ports in a
temporary run dir, and `down` stops them when the bench ends.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SERVICES_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "services"


@dataclass(frozen=True, slots=True)
class Endpoints:
    kafka_bootstrap: str
    mongo_uri: str
    started_here: bool


def parse_env_lines(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        line = line.strip().removeprefix("export ")
        name, sep, value = line.partition("=")
        if sep and name.startswith("METRICSYNC_"):
            out[name] = value.strip().strip("'\"")
    return out


class Servers:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.endpoints: Endpoints | None = None

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("METRICSYNC_")}
        env["METRICSYNC_SERVICES_DIR"] = str(self.run_dir)
        env["METRICSYNC_KAFKA_PORT"] = "0"
        env["METRICSYNC_KAFKA_CONTROLLER_PORT"] = "0"
        env["METRICSYNC_MONGO_PORT"] = "0"
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        return env

    def get(self) -> Endpoints:
        if self.endpoints is not None:
            return self.endpoints
        bootstrap = os.environ.get("METRICSYNC_KAFKA_BOOTSTRAP")
        mongo = os.environ.get("METRICSYNC_MONGO_URI")
        if bootstrap and mongo:
            self.endpoints = Endpoints(bootstrap, mongo, started_here=False)
            return self.endpoints
        if not SERVICES_SCRIPT.exists():
            raise RuntimeError(
                f"{SERVICES_SCRIPT} is missing (not a checkout?): "
                "set METRICSYNC_KAFKA_BOOTSTRAP and METRICSYNC_MONGO_URI"
            )
        self.run_dir.mkdir(parents=True, exist_ok=True)
        log.info("starting Kafka and FerretDB with scripts/services in %s", self.run_dir)
        up = subprocess.run([str(SERVICES_SCRIPT), "up"], env=self._env(), capture_output=True, text=True, check=False)
        if up.returncode != 0:
            raise RuntimeError(f"scripts/services up failed ({up.returncode}):\n{up.stdout[-2000:]}{up.stderr[-2000:]}")
        printed = subprocess.run(
            [str(SERVICES_SCRIPT), "env"], env=self._env(), capture_output=True, text=True, check=True
        ).stdout
        values = parse_env_lines(printed)
        self.endpoints = Endpoints(values["METRICSYNC_KAFKA_BOOTSTRAP"], values["METRICSYNC_MONGO_URI"], True)
        return self.endpoints

    def close(self) -> None:
        if self.endpoints is not None and self.endpoints.started_here:
            subprocess.run([str(SERVICES_SCRIPT), "down"], env=self._env(), capture_output=True, check=False)
        self.endpoints = None
